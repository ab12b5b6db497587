package ai.vl4j.bench;

import ai.vl4j.generate.Sampler;
import ai.vl4j.image.RgbImage;
import ai.vl4j.llm.KvCache;
import ai.vl4j.llm.LlamaConfig;
import ai.vl4j.llm.LlamaModel;
import ai.vl4j.vision.HybridVisionTower;
import ai.vl4j.vision.SigLipVit;
import ai.vl4j.tensor.DType;
import ai.vl4j.vlm.DeepSeekVl;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Times every stage of answering one prompt — image preprocessing, each vision tower, the aligner, the
 * prefill of the whole prompt, per-token decode — over repeated runs, and relates decode speed to the read
 * bandwidth measured on the spot. The prompt is BOS, text ids up to the requested count, then the image's ids
 * (one image + 32 text tokens = 608 LM tokens); decode is greedy and never stops early.
 */
public final class PipelineBenchmark {

    /**
     * @param promptTokens text tokens of the prompt (BOS included), image ids come on top
     * @param batchSizes   batch sizes for the batched-decode measurement (empty: skip it)
     */
    public record Options(int promptTokens, int genTokens, int runs, int[] batchSizes) {
        public Options(int promptTokens, int genTokens, int runs) {
            this(promptTokens, genTokens, runs, new int[0]);
        }
    }

    /** Median and spread of one stage over the runs, seconds. */
    public record Stats(double median, double min, double max) {
        static Stats of(List<Double> values) {
            double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double median = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
            return new Stats(median, v[0], v[v.length - 1]);
        }
    }

    /**
     * @param lmTokens              prompt length seen by the LLM
     * @param stages                seconds per stage
     * @param ttft                  time to first token (median of the per-run sums)
     * @param decodeBytesPerToken   weight bytes one decode step streams (all LLM matrices but the embedding table)
     * @param decodeKvBytesPerToken bytes of cached keys and values one decode step reads, on average over the
     *                              measured steps (the cache grows by one position a step)
     */
    public record Report(int lmTokens, int genTokens, int runs, Map<String, Stats> stages, Stats ttft,
                         double prefillTokensPerSecond, double decodeTokensPerSecond, long decodeBytesPerToken,
                         long decodeKvBytesPerToken, Roofline.Result roofline, long peakHeapBytes, long peakRssBytes,
                         Map<Integer, Double> batchedDecodeTokensPerSecond) {
        /** Decode speed as a fraction of what the read bandwidth allows for the weights alone. */
        public double decodeRooflineFraction() {
            return decodeTokensPerSecond * decodeBytesPerToken / (roofline.readGbPerS() * 1e9);
        }

        /** The same for everything a decode step reads: the weights and the KV cache. */
        public double decodeRooflineFractionWithKv() {
            return decodeTokensPerSecond * (decodeBytesPerToken + decodeKvBytesPerToken) / (roofline.readGbPerS() * 1e9);
        }
    }

    private PipelineBenchmark() {
    }

    public static Report run(DeepSeekVl vl, RgbImage image, Options options, Consumer<String> progress) {
        LlamaModel llm = vl.languageModel();
        int[] ids = promptIds(vl, image != null, options.promptTokens());
        // The host hands out memory bandwidth unevenly over time: measure before and after, keep the better.
        Roofline.Result before = Roofline.measure();
        Map<String, List<Double>> times = new LinkedHashMap<>();
        List<Double> ttfts = new ArrayList<>();
        for (int run = 0; run <= options.runs(); run++) {          // run 0 warms the JIT and the page cache
            boolean record = run > 0;
            progress.accept(record ? "run " + run + "/" + options.runs() : "warm-up run");
            Map<String, Double> t = new LinkedHashMap<>();
            float[] x = llm.embed(ids);
            if (image != null) {
                long t0 = System.nanoTime();
                float[] pixels = vl.preprocess(image);
                t.put("preprocess", since(t0));
                float[][] features = towers(vl, pixels, t);
                t0 = System.nanoTime();
                float[] rows = vl.align(features);
                t.put("aligner", since(t0));
                System.arraycopy(rows, 0, x, (ids.length - vl.config().chatProcessor().numImageTokens()) * llm.config().hiddenSize(), rows.length);
            }
            long t0 = System.nanoTime();
            KvCache cache = new KvCache(llm.config(), ids.length + options.genTokens(), vl.kvCachePrecision());
            float[] logits = llm.logits(llm.forward(x, ids.length, cache), ids.length - 1);
            t.put("prefill", since(t0));
            int next = Sampler.argmax(logits);
            double ttft = t.values().stream().mapToDouble(Double::doubleValue).sum();
            t0 = System.nanoTime();
            for (int i = 0; i < options.genTokens(); i++) {
                next = Sampler.argmax(llm.decodeStep(next, cache));
            }
            t.put("decode_per_token", since(t0) / Math.max(1, options.genTokens()));
            if (record) {
                t.forEach((k, v) -> times.computeIfAbsent(k, key -> new ArrayList<>()).add(v));
                ttfts.add(ttft);
            }
        }
        Map<String, Stats> stages = new LinkedHashMap<>();
        times.forEach((k, v) -> stages.put(k, Stats.of(v)));
        Map<Integer, Double> batched = new LinkedHashMap<>();
        for (int size : options.batchSizes()) {
            progress.accept("batched decode, " + size + " sequences");
            batched.put(size, batchedDecode(llm, vl.kvCachePrecision(), ids, size, options.genTokens()));
        }
        Roofline.Result after = Roofline.measure();
        Roofline.Result roofline = new Roofline.Result(Math.max(before.readGbPerS(), after.readGbPerS()),
                Math.max(before.fmaGflops(), after.fmaGflops()));
        return new Report(ids.length, options.genTokens(), options.runs(), stages, Stats.of(ttfts),
                ids.length / stages.get("prefill").median(), 1.0 / stages.get("decode_per_token").median(),
                llm.decodeBytesPerStep(), kvBytesPerDecodeStep(llm.config(), vl.kvCachePrecision(), ids.length, options.genTokens()),
                roofline, peakHeap(), peakRss(), batched);
    }

    /**
     * Keys and values a decode step reads (every layer, every cached position), averaged over genTokens steps after
     * a prompt of promptTokens: step i attends over promptTokens + 1 + i positions.
     */
    static long kvBytesPerDecodeStep(LlamaConfig cfg, DType precision, int promptTokens, int genTokens) {
        double meanPositions = promptTokens + (genTokens + 1) / 2.0;
        return Math.round(cfg.numLayers() * 2.0 * cfg.kvDim() * precision.size * meanPositions);
    }

    /** Each tower timed on its own (the hybrid tower's 1024→384 resize counts as SigLIP's). */
    private static float[][] towers(DeepSeekVl vl, float[] pixels, Map<String, Double> t) {
        if (vl.visionTower() instanceof HybridVisionTower hybrid) {
            long t0 = System.nanoTime();
            float[] high = hybrid.sam().forward(pixels);
            t.put("sam", since(t0));
            t0 = System.nanoTime();
            float[] low = hybrid.siglip().forward(hybrid.lowResolution(pixels));
            t.put("siglip", since(t0));
            return new float[][] {high, low};
        }
        long t0 = System.nanoTime();
        float[] f = ((SigLipVit) vl.visionTower()).forward(pixels);
        t.put("siglip", since(t0));
        return new float[][] {f};
    }

    /** BOS, then text ids cycled from an English sentence up to promptTokens, then the image span if any. */
    static int[] promptIds(DeepSeekVl vl, boolean withImage, int promptTokens) {
        int[] text = vl.tokenizer().encode("Describe every object in this picture, its colour, its position and what it is used for. ", false);
        int imageTokens = withImage ? vl.config().chatProcessor().numImageTokens() : 0;
        int[] ids = new int[Math.max(1, promptTokens) + imageTokens];
        ids[0] = vl.tokenizer().bosId();
        for (int i = 1; i < promptTokens; i++) {
            ids[i] = text[(i - 1) % text.length];
        }
        int imageId = vl.tokenizer().addedTokenId(vl.config().chatProcessor().imageTag());
        Arrays.fill(ids, Math.max(1, promptTokens), ids.length, imageId);
        return ids;
    }

    /**
     * Aggregate tokens/s of `size` sequences decoded together (one forwardBatch per step), each with its own
     * cache filled by the text part of the prompt; best of two passes.
     */
    static double batchedDecode(LlamaModel llm, DType kvCache, int[] ids, int size, int steps) {
        int[] text = Arrays.stream(ids).limit(Math.min(ids.length, 64)).toArray();
        double best = 0;
        for (int pass = 0; pass < 2; pass++) {
            KvCache[] caches = new KvCache[size];
            int[] next = new int[size];
            for (int b = 0; b < size; b++) {
                caches[b] = new KvCache(llm.config(), text.length + steps, kvCache);
                float[] logits = llm.logits(llm.forward(llm.embed(text), text.length, caches[b]), text.length - 1);
                next[b] = Sampler.argmax(logits);
            }
            int vocab = llm.config().vocabSize();
            float[] logits = new float[size * vocab];
            float[] row = new float[vocab];
            long t0 = System.nanoTime();
            for (int s = 0; s < steps; s++) {
                llm.logitsOfRows(llm.forwardBatch(llm.embed(next), caches), size, logits);
                for (int b = 0; b < size; b++) {
                    System.arraycopy(logits, b * vocab, row, 0, vocab);
                    next[b] = Sampler.argmax(row);
                }
            }
            best = Math.max(best, (double) size * steps / since(t0));
        }
        return best;
    }

    private static double since(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    static long peakHeap() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    /** The process's peak resident set size: VmHWM of /proc/self/status (Linux), or -1 where it cannot be read. */
    public static long peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return -1;
    }
}
