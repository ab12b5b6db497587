package ai.vl4j.cli;

import ai.vl4j.bench.SamBenchmark;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.sam.AutomaticMaskGenerator;
import ai.vl4j.sam.Sam;
import ai.vl4j.tensor.Backends;
import ai.vl4j.tensor.Parallel;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code vl4j bench sam}: Segment Anything's image encoder, one prompt, the decoder and the automatic generator, timed. */
@Command(name = "sam", description = "Time SAM: the image encoder, one point prompt, the mask decoder, the automatic generator per image.",
        sortOptions = false)
final class SamBenchCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, paramLabel = "MODEL", defaultValue = SegmentCommand.DEFAULT_MODEL,
            description = "SAM checkpoint (HF SamModel layout): folder or ORG/NAME[@REVISION] (default ${DEFAULT-VALUE}).")
    String model;

    @Option(names = {"-i", "--image"}, paramLabel = "FILE", required = true, description = "The image.")
    String image;

    @Option(names = "--prompts", defaultValue = "16", paramLabel = "N", description = "Point prompts timed per run (default ${DEFAULT-VALUE}).")
    int prompts;

    @Option(names = "--runs", defaultValue = "3", paramLabel = "N", description = "Timed runs after one warm-up run (default ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--points-per-side", defaultValue = "32", paramLabel = "N", description = "Generator grid (default ${DEFAULT-VALUE}).")
    int pointsPerSide;

    @Option(names = "--points-per-batch", defaultValue = "64", paramLabel = "B", description = "Generator batch (default ${DEFAULT-VALUE}).")
    int pointsPerBatch;

    @Option(names = "--pred-iou-thresh", defaultValue = "0.88", paramLabel = "X", description = "Generator IoU filter (default ${DEFAULT-VALUE}).")
    double predIouThresh;

    @Option(names = "--stability-score-thresh", defaultValue = "0.95", paramLabel = "Y",
            description = "Generator stability filter (default ${DEFAULT-VALUE}).")
    double stabilityScoreThresh;

    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: all cores).")
    Integer threads;

    @Option(names = "--backend", paramLabel = "B", description = "What multiplies matrices of many rows: auto (default), java or dnnl.")
    String backend;

    @Option(names = "--compute", paramLabel = "P", description = "Precision of those products' inputs: f32 (default) or bf16 "
            + "(where oneDNN has a bfloat16 dot product).")
    String computePrecision;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (runs < 1 || prompts < 1) {
            throw new IllegalArgumentException("--runs and --prompts must be at least 1");
        }
        if (threads != null) {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
            }
            Parallel.setThreads(threads);
        }
        ComputeOptions.selectBackend(backend, computePrecision);
        AutomaticMaskGenerator.Options d = AutomaticMaskGenerator.Options.DEFAULTS;
        AutomaticMaskGenerator.Options amg = new AutomaticMaskGenerator.Options(pointsPerSide, pointsPerBatch, predIouThresh,
                stabilityScoreThresh, d.stabilityScoreOffset(), d.boxNmsThresh(), d.cropNLayers(), d.cropNmsThresh(),
                d.cropOverlapRatio(), d.cropNPointsDownscaleFactor(), d.minMaskRegionArea());
        RgbImage picture = ImageLoader.load(image);
        Path folder = ModelOption.resolve(model);
        PrintStream out = Streams.out();
        try (Sam sam = Sam.load(folder)) {
            SamBenchmark.Report r = SamBenchmark.run(sam, picture, new SamBenchmark.Options(prompts, runs, amg),
                    msg -> {
                        if (!Streams.quiet()) {
                            Streams.err().println("bench sam: " + msg);
                        }
                    });
            if (json) {
                Map<String, Object> obj = new LinkedHashMap<>();
                obj.put("model", model);
                obj.put("threads", Parallel.threads());
                obj.put("backend", Backends.active().name());
                obj.put("compute", Backends.bf16Inputs() ? "bf16" : "f32");
                obj.put("image", new int[] {r.height(), r.width()});
                obj.put("runs", runs);
                obj.put("prompts", prompts);
                Map<String, Object> stages = new LinkedHashMap<>();
                r.stages().forEach((k, v) -> stages.put(k + "_s", Map.of("median", v.median(), "min", v.min(), "max", v.max())));
                obj.put("stages_s", stages);
                obj.put("amg_masks", r.amgMasks());
                obj.put("amg_prompts", r.amgPrompts());
                obj.put("points_per_side", pointsPerSide);
                obj.put("pred_iou_thresh", predIouThresh);
                obj.put("stability_score_thresh", stabilityScoreThresh);
                out.println(new ObjectMapper().writeValueAsString(obj));
            } else {
                out.printf("%-30s %10s %10s %10s%n", "stage (s)", "median", "min", "max");
                r.stages().forEach((k, v) -> out.printf("%-30s %10.4f %10.4f %10.4f%n", label(k), v.median(), v.min(), v.max()));
                out.printf("generator: %d prompts, %d masks kept (image %d×%d)%n", r.amgPrompts(), r.amgMasks(), r.width(), r.height());
            }
        }
        return 0;
    }

    private static String label(String stage) {
        return switch (stage) {
            case "encoder" -> "image encoder";
            case "prompt" -> "one prompt (predict)";
            case "decoder" -> "mask decoder alone";
            case "amg" -> "generator, after encoding";
            default -> stage;
        };
    }
}
