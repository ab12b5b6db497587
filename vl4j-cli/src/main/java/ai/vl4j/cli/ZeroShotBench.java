package ai.vl4j.cli;

import ai.vl4j.bench.PipelineBenchmark.Stats;
import ai.vl4j.bench.ZeroShotBenchmark;
import ai.vl4j.image.RgbImage;
import ai.vl4j.tensor.Parallel;
import ai.vl4j.zeroshot.ZeroShotClassifier;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code vl4j bench} on a SigLIP or CLIP model: classification against --labels cached labels, stage by stage. */
final class ZeroShotBench {
    private ZeroShotBench() {
    }

    static int run(String modelName, Path folder, RgbImage image, int labels, int runs, boolean json) throws Exception {
        if (labels < 1) {
            throw new IllegalArgumentException("--labels must be at least 1, got " + labels);
        }
        PrintStream out = Streams.out();
        // without --image: a 640x480 gradient (the processor resizes it like any photo)
        RgbImage picture = image != null ? image : gradient(640, 480);
        try (ZeroShotClassifier zs = ZeroShotClassifier.load(folder)) {
            ZeroShotBenchmark.Report r = ZeroShotBenchmark.run(zs, picture, labels, runs, msg -> {
                if (!Streams.quiet()) {
                    Streams.err().println("bench: " + msg);
                }
            });
            if (json) {
                Map<String, Object> obj = new LinkedHashMap<>();
                obj.put("model", modelName);
                obj.put("family", r.family());
                obj.put("threads", Parallel.threads());
                obj.put("labels", r.labels());
                obj.put("embedding_dim", r.embeddingDim());
                obj.put("runs", r.runs());
                obj.put("label_set_s", r.labelSetS());
                Map<String, Object> stages = new LinkedHashMap<>();
                r.stages().forEach((k, v) -> stages.put(k + "_s", Map.of("median", v.median(), "min", v.min(), "max", v.max())));
                obj.put("stages_s", stages);
                obj.put("classify_overhead_s", Map.of("median", r.overhead().median(), "min", r.overhead().min(), "max", r.overhead().max()));
                out.println(new ObjectMapper().writeValueAsString(obj));
            } else {
                out.printf("%s, %d labels (embeddings of %d), %d runs, %d threads%n", r.family(), r.labels(), r.embeddingDim(), r.runs(),
                        Parallel.threads());
                out.printf("label set encoded once: %.3f s (%.2f ms a label)%n", r.labelSetS(), 1e3 * r.labelSetS() / r.labels());
                out.printf("%-18s %10s %10s %10s%n", "stage (s)", "median", "min", "max");
                for (Map.Entry<String, Stats> e : r.stages().entrySet()) {
                    out.printf("%-18s %10.4f %10.4f %10.4f%n", e.getKey(), e.getValue().median(), e.getValue().min(), e.getValue().max());
                }
                out.printf("classify = preprocess + image encoding + %.2f ms (median of the runs; min %.2f ms); scoring %d cached labels: %.2f ms%n",
                        1e3 * r.overhead().median(), 1e3 * r.overhead().min(), r.labels(), 1e3 * r.stages().get("scoring").median());
            }
        }
        return 0;
    }

    private static RgbImage gradient(int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = (y * w + x) * 3;
                rgb[i] = (byte) (255 * x / w);
                rgb[i + 1] = (byte) (255 * y / h);
                rgb[i + 2] = (byte) ((x ^ y) & 0xff);
            }
        }
        return new RgbImage(w, h, rgb);
    }
}
