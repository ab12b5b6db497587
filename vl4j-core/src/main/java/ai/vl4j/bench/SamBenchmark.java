package ai.vl4j.bench;

import ai.vl4j.image.RgbImage;
import ai.vl4j.sam.AutomaticMaskGenerator;
import ai.vl4j.sam.MaskDecoder;
import ai.vl4j.sam.PromptEncoder;
import ai.vl4j.sam.Sam;
import ai.vl4j.sam.SamPredictor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Times Segment Anything over repeated runs (after one warm-up run): the image encoder, one point prompt
 * ({@link SamPredictor#predict}: prompt encoder, mask decoder, postprocessing to the image size; multimask), the
 * decoder alone, and the automatic generator per image with its image encodings taken out (timed inside it). The prompts are those of
 * {@code scripts/sam_torch_bench.py}, so the official code can be timed on the same work: point i at
 * ((0.5 + 0.618034·i) mod 1, (0.5 + 0.381966·i) mod 1) of the image.
 */
public final class SamBenchmark {
    private SamBenchmark() {
    }

    /**
     * @param prompts point prompts timed per run (the median counts)
     * @param runs    timed runs after the warm-up
     * @param amg     the automatic generator's options
     */
    public record Options(int prompts, int runs, AutomaticMaskGenerator.Options amg) {
    }

    /**
     * Seconds per stage: encoder, prompt (predict), decoder (decode only), amg (generate minus the encoder);
     * amgMasks the records of the last run, amgPrompts the grid prompts it decoded.
     */
    public record Report(int height, int width, Map<String, PipelineBenchmark.Stats> stages, int amgMasks, int amgPrompts) {
    }

    public static Report run(Sam sam, RgbImage image, Options options, Consumer<String> log) {
        SamPredictor predictor = new SamPredictor(sam);
        AutomaticMaskGenerator generator = new AutomaticMaskGenerator(sam, options.amg());
        Map<String, List<Double>> times = new LinkedHashMap<>();
        for (String stage : List.of("encoder", "prompt", "decoder", "amg")) {
            times.put(stage, new ArrayList<>());
        }
        int masks = 0;
        int[] prompts = new int[1];
        for (int run = 0; run <= options.runs(); run++) {
            long t0 = System.nanoTime();
            predictor.setImage(image);
            double encoder = seconds(t0);
            List<Double> prompt = new ArrayList<>();
            List<Double> decoder = new ArrayList<>();
            PromptEncoder encoderOfPrompts = sam.promptEncoder();
            for (int i = 0; i < options.prompts(); i++) {
                double[] point = point(i, image.width(), image.height());
                long s = System.nanoTime();
                predictor.predict(new double[][] {point}, new int[] {1}, null, null, true);
                prompt.add(seconds(s));
                SamPredictor.Prompt p = predictor.prompt(new double[][] {point}, new int[] {1}, null, null);
                float[] sparse = encoderOfPrompts.sparse(p.coords(), p.labels(), null);
                s = System.nanoTime();
                MaskDecoder.Output out = predictor.decode(sparse, 1, 2, null, true);
                decoder.add(seconds(s));
                if (out.iou().length == 0) {
                    throw new IllegalStateException("no masks");
                }
            }
            prompts[0] = 0;
            double[] encoding = new double[1];
            long g = System.nanoTime();
            masks = generator.generate(image, new AutomaticMaskGenerator.Listener() {
                @Override
                public void batch(int crop, int crops, int pointsDone, int points, float[] iouPredictions) {
                    prompts[0] += iouPredictions.length / 3;
                }

                @Override
                public void encoded(int crop, double seconds) {
                    encoding[0] += seconds;
                }
            }).size();
            double amg = seconds(g) - encoding[0];
            log.accept(String.format("%s: encoder %.3f s, prompt %.4f s, decoder %.4f s, generator %.3f s (%d masks)",
                    run == 0 ? "warm-up" : "run " + run, encoder, median(prompt), median(decoder), amg, masks));
            if (run > 0) {
                times.get("encoder").add(encoder);
                times.get("prompt").add(median(prompt));
                times.get("decoder").add(median(decoder));
                times.get("amg").add(amg);
            }
        }
        Map<String, PipelineBenchmark.Stats> stages = new LinkedHashMap<>();
        times.forEach((k, v) -> stages.put(k, PipelineBenchmark.Stats.of(v)));
        return new Report(image.height(), image.width(), stages, masks, prompts[0]);
    }

    /** Point i of the benchmark's prompts, in image pixels. */
    public static double[] point(int i, int width, int height) {
        return new double[] {((0.5 + 0.618034 * i) % 1.0) * width, ((0.5 + 0.381966 * i) % 1.0) * height};
    }

    private static double median(List<Double> v) {
        return PipelineBenchmark.Stats.of(v).median();
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
