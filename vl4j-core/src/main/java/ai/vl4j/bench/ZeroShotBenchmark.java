package ai.vl4j.bench;

import ai.vl4j.bench.PipelineBenchmark.Stats;
import ai.vl4j.image.RgbImage;
import ai.vl4j.zeroshot.LabelSet;
import ai.vl4j.zeroshot.ZeroShotClassifier;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Times zero-shot classification against a large label set whose text embeddings are computed once and cached:
 * the label set's encoding (once), then per run the image's preprocessing and encoding, the scoring of the cached
 * set (one product [L, P]·[P], the scores, the ranking) and the whole classification of an image. The claim it
 * checks: classifying an image = one image encoding + a few milliseconds, whatever the number of labels.
 */
public final class ZeroShotBenchmark {

    /**
     * @param labels       size L of the label set
     * @param labelSetS    seconds to encode the L label texts (once, with an empty cache)
     * @param stages       seconds per run: preprocess, image_encode, scoring (cached set), classify (all of it)
     * @param overhead     per run, classify − preprocess − image_encode of that run: what classifying adds to encoding
     *                     the image (its noise is that of the encoding; scoring measures the same work directly)
     */
    public record Report(String family, int labels, int embeddingDim, int runs, double labelSetS, Map<String, Stats> stages,
                         Stats overhead) {
    }

    private ZeroShotBenchmark() {
    }

    /** Labels "thing aa", "thing ab", …: distinct texts of letters only (every tokenizer knows them). */
    public static List<String> syntheticLabels(int n) {
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            StringBuilder word = new StringBuilder();
            int v = i;
            do {
                word.append((char) ('a' + v % 26));
                v /= 26;
            } while (v > 0);
            out.add("thing " + word.reverse());
        }
        return out;
    }

    public static Report run(ZeroShotClassifier zs, RgbImage image, int labelCount, int runs, Consumer<String> progress) {
        List<String> labels = syntheticLabels(labelCount);
        progress.accept("encoding " + labelCount + " label texts (once)");
        long t0 = System.nanoTime();
        LabelSet set = zs.labels(labels, ZeroShotClassifier.DEFAULT_TEMPLATE);
        double labelSetS = (System.nanoTime() - t0) / 1e9;
        Map<String, List<Double>> times = new LinkedHashMap<>();
        List<Double> overhead = new ArrayList<>();
        for (String stage : List.of("preprocess", "image_encode", "scoring", "classify")) {
            times.put(stage, new ArrayList<>());
        }
        for (int run = -1; run < runs; run++) {   // run -1 warms up
            progress.accept(run < 0 ? "warm-up run" : "run " + (run + 1) + " of " + runs);
            long a = System.nanoTime();
            float[] pixels = zs.model().pixelValues(image);
            long b = System.nanoTime();
            float[] embedding = zs.embedPixels(pixels);
            long c = System.nanoTime();
            zs.classify(embedding, set);
            long d = System.nanoTime();
            zs.classify(image, set);
            long e = System.nanoTime();
            if (run >= 0) {
                times.get("preprocess").add((b - a) / 1e9);
                times.get("image_encode").add((c - b) / 1e9);
                times.get("scoring").add((d - c) / 1e9);
                times.get("classify").add((e - d) / 1e9);
                overhead.add(((e - d) - (c - a)) / 1e9);
            }
        }
        Map<String, Stats> stages = new LinkedHashMap<>();
        times.forEach((k, v) -> stages.put(k, Stats.of(v)));
        return new Report(zs.family(), labelCount, zs.model().embeddingDim(), runs, labelSetS, stages, Stats.of(overhead));
    }
}
