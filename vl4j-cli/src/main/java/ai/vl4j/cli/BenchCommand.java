package ai.vl4j.cli;

import ai.vl4j.bench.PipelineBenchmark;
import ai.vl4j.bench.TrainingBenchmark;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.tensor.Backends;
import ai.vl4j.tensor.ComputeBackend;
import ai.vl4j.tensor.Parallel;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.zeroshot.ZeroShotClassifier;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code vl4j bench}: stage timings over repeated runs, and decode speed against the measured roofline; with --train,
 * training steps ({@link TrainBench}); {@code bench sam}: SAM.
 */
@Command(name = "bench", description = "Time image preprocessing, the vision towers, aligner, prefill and decode (SigLIP/CLIP models: "
        + "zero-shot classification; --train: training steps).", sortOptions = false,
        subcommands = SamBenchCommand.class)
final class BenchCommand implements Callable<Integer> {
    /** Options only inference takes, and options only --train takes (each refused with the other mode). */
    private static final List<String> INFERENCE_ONLY = List.of("--prompt-tokens", "--gen-tokens", "--batch", "--labels", "--quant", "--kv-cache",
            "--adapter");
    private static final List<String> TRAIN_ONLY = List.of("--stages", "--checkpoint-activations", "--lora-rank", "--batch-size", "--sample-tokens");

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Option(names = {"-i", "--image"}, paramLabel = "FILE", description = "Image to encode (without one, a text-only prompt).")
    String image;

    @Option(names = "--prompt-tokens", defaultValue = "32", paramLabel = "N", description = "Text tokens of the prompt, BOS included; the image adds its 576 (default ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = "--gen-tokens", defaultValue = "32", paramLabel = "N", description = "Tokens to decode (default ${DEFAULT-VALUE}).")
    int genTokens;

    @Option(names = "--runs", defaultValue = "3", paramLabel = "N", description = "Timed runs after one warm-up run (default ${DEFAULT-VALUE}).")
    int runs;

    @Mixin
    ComputeOptions compute;

    @Option(names = "--batch", split = ",", paramLabel = "B", description = "Also measure batched decode for these batch sizes, e.g. 1,4,8.")
    int[] batch = new int[0];

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(names = "--labels", defaultValue = "1000", paramLabel = "N", description = "SigLIP/CLIP models: size of the cached label set classified against (default ${DEFAULT-VALUE}).")
    int labels;

    @Option(names = "--train", description = "Time training steps instead: stage 1 (the aligner) and stage 3 with LoRA, each with "
            + "activations kept and recomputed; needs --image.")
    boolean train;

    @Option(names = "--stages", split = ",", paramLabel = "S", description = "--train: 1 (the aligner, on an image and a caption) and/or 3 "
            + "(LoRA on the language model, on an image and a conversation); default 1,3.")
    int[] stages = {1, 3};

    @Option(names = "--checkpoint-activations", defaultValue = "both", paramLabel = "MODE", description = "--train: on (recomputed in "
            + "backward), off (kept) or both (default).")
    String checkpointActivations;

    @Option(names = "--lora-rank", defaultValue = "8", paramLabel = "R", description = "--train: rank of the stage-3 adapters (alpha 2 × R; "
            + "default ${DEFAULT-VALUE}).")
    int loraRank;

    @Option(names = "--batch-size", defaultValue = "1", paramLabel = "B", description = "--train: samples per step (default ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--sample-tokens", defaultValue = "640", paramLabel = "T", description = "--train: tokens per sample, the image's 576 "
            + "included (the caption or answer is made to fit; default ${DEFAULT-VALUE}).")
    int sampleTokens;

    @Override
    public Integer call() throws Exception {
        if (train) {
            return train();
        }
        for (String option : TRAIN_ONLY) {
            if (spec.commandLine().getParseResult().hasMatchedOption(option)) {
                throw new IllegalArgumentException(option + " goes with --train");
            }
        }
        if (runs < 1 || genTokens < 1 || promptTokens < 1 || java.util.Arrays.stream(batch).anyMatch(b -> b < 1)) {
            throw new IllegalArgumentException("--runs, --gen-tokens, --prompt-tokens and --batch sizes must be at least 1");
        }
        QuantType quantType = compute.apply();
        PrintStream out = Streams.out();
        PrintStream err = Streams.err();
        RgbImage picture = image == null ? null : ImageLoader.load(image);
        Path folder = model.resolve();
        if (ZeroShotClassifier.isZeroShotModel(folder)) {
            return ZeroShotBench.run(model.model, folder, picture, labels, runs, json);
        }
        try (DeepSeekVl vl = compute.adapt(model.load(quantType, compute.kvPrecision()))) {
            PipelineBenchmark.Report r = PipelineBenchmark.run(vl, picture,
                    new PipelineBenchmark.Options(promptTokens, genTokens, runs, batch), msg -> err.println("bench: " + msg));
            if (json) {
                out.println(new ObjectMapper().writeValueAsString(toJson(r, quantType, vl.languageModel().packedBytes())));
            } else {
                print(out, r);
                out.printf("language model weights packed into panels: %d MB%n", vl.languageModel().packedBytes() >> 20);
            }
            if (Streams.verbose()) {
                err.println(Backends.report());
            }
        }
        return 0;
    }

    /** --train: the training benchmark on the model (a DeepSeek-VL folder). */
    private int train() throws Exception {
        for (String option : INFERENCE_ONLY) {
            if (spec.commandLine().getParseResult().hasMatchedOption(option)) {
                throw new IllegalArgumentException(option + " is for inference; bench --train does not take it");
            }
        }
        if (image == null) {
            throw new IllegalArgumentException("bench --train needs --image FILE: the picture of each sample");
        }
        List<Boolean> modes = switch (checkpointActivations.toLowerCase(Locale.ROOT)) {
            case "off" -> List.of(false);
            case "on" -> List.of(true);
            case "both" -> List.of(false, true);
            default -> throw new IllegalArgumentException("--checkpoint-activations takes on, off or both, got '" + checkpointActivations + "'");
        };
        List<TrainingBenchmark.Setup> setups = new ArrayList<>();
        for (int stage : stages) {
            TrainingBenchmark.Setup setup = TrainingBenchmark.Setup.ofStage(stage);
            if (!setups.contains(setup)) {
                setups.add(setup);
            }
        }
        Path picture = Path.of(image);
        ImageLoader.load(image);                    // a missing or broken image is refused before the model loads
        compute.apply();
        TrainingBenchmark.Options options = new TrainingBenchmark.Options(setups, modes, loraRank, batchSize, sampleTokens, runs, picture);
        return TrainBench.run(model.model, model.resolve(), options, json);
    }

    private Map<String, Object> toJson(PipelineBenchmark.Report r, QuantType quantType, long packedBytes) {
        Map<String, Object> obj = new LinkedHashMap<>();
        obj.put("model", model.model);
        obj.put("threads", Parallel.threads());
        obj.put("quant", quantType == null ? "none" : quantType.id());
        obj.put("kv_cache", compute.kvPrecision().name().toLowerCase(java.util.Locale.ROOT));
        ComputeBackend backend = Backends.active();
        obj.put("backend", backend.name());
        obj.put("backend_detail", backend.describe());
        obj.put("compute", Backends.bf16Inputs() ? "bf16" : "f32");
        if (Backends.dnnlIsa() != null) {
            obj.put("dnnl_isa", Backends.dnnlIsa());
            obj.put("dnnl_packed_mb", Backends.dnnlPackedBytes() >> 20);
        }
        obj.put("lm_packed_mb", packedBytes >> 20);
        obj.put("lm_prompt_tokens", r.lmTokens());
        obj.put("gen_tokens", r.genTokens());
        obj.put("runs", r.runs());
        obj.put("ttft_s", r.ttft().median());
        obj.put("prefill_tok_s", r.prefillTokensPerSecond());
        obj.put("decode_tok_s", r.decodeTokensPerSecond());
        Map<String, Object> stages = new LinkedHashMap<>();
        r.stages().forEach((k, v) -> stages.put(k + "_s", Map.of("median", v.median(), "min", v.min(), "max", v.max())));
        obj.put("stages_s", stages);
        obj.put("roofline", Map.of("read_gb_s", r.roofline().readGbPerS(), "fma_gflops", r.roofline().fmaGflops()));
        obj.put("decode_bytes_per_token", r.decodeBytesPerToken());
        obj.put("decode_roofline_fraction", r.decodeRooflineFraction());
        obj.put("decode_kv_bytes_per_token", r.decodeKvBytesPerToken());
        obj.put("decode_roofline_fraction_with_kv", r.decodeRooflineFractionWithKv());
        if (!r.batchedDecodeTokensPerSecond().isEmpty()) {
            Map<String, Double> batched = new LinkedHashMap<>();
            r.batchedDecodeTokensPerSecond().forEach((size, tps) -> batched.put(String.valueOf(size), tps));
            obj.put("batched_decode_tok_s", batched);
        }
        obj.put("peak_heap_mb", r.peakHeapBytes() >> 20);
        obj.put("peak_rss_mb", r.peakRssBytes() < 0 ? -1 : r.peakRssBytes() >> 20);
        return obj;
    }

    private static void print(PrintStream out, PipelineBenchmark.Report r) {
        out.printf("%-18s %10s %10s %10s%n", "stage (s)", "median", "min", "max");
        r.stages().forEach((k, v) -> out.printf("%-18s %10.4f %10.4f %10.4f%n", k, v.median(), v.min(), v.max()));
        out.printf("time to first token %.3f s (min %.3f, max %.3f)%n", r.ttft().median(), r.ttft().min(), r.ttft().max());
        out.printf("prefill %d tokens: %.1f tok/s | decode: %.2f tok/s%n", r.lmTokens(), r.prefillTokensPerSecond(), r.decodeTokensPerSecond());
        out.printf("roofline: read %.1f GB/s, f32 FMA %.0f GFLOP/s | decode streams %.2f GB/token of weights = %.0f%% of the read"
                        + " roofline; with the KV cache (%.2f GB/token) %.0f%%%n",
                r.roofline().readGbPerS(), r.roofline().fmaGflops(), r.decodeBytesPerToken() / 1e9, 100 * r.decodeRooflineFraction(),
                r.decodeKvBytesPerToken() / 1e9, 100 * r.decodeRooflineFractionWithKv());
        r.batchedDecodeTokensPerSecond().forEach((size, tps) ->
                out.printf("batched decode, %d sequences: %.2f tok/s in all%n", size, tps));
        out.printf("peak heap %d MB, peak RSS %d MB%n", r.peakHeapBytes() >> 20, r.peakRssBytes() >> 20);
        out.println("products of many rows: " + Backends.active().describe());
    }
}
