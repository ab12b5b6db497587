package ai.vl4j.vlm;

import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.safetensors.SafetensorsWriter.Entry;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Widen;
import ai.vl4j.vision.HybridVisionTower;
import ai.vl4j.vision.SamConfig;
import ai.vl4j.vision.SigLipConfig;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A random-weight checkpoint with the real shapes and layout of deepseek-vl-1.3b or -7b (the reconstructed
 * config files of the spec, the DeepSeek tokenizer, every tensor of the state dict including the unused ones,
 * sharded like the real 7B repository), for benchmarks and memory checks without downloading 4–15 GB.
 * Norm scales are 1, biases 0, other weights uniform with standard deviation 0.02.
 */
public final class SyntheticModel {
    private static final String RESOURCES = "/ai/vl4j/synth/";
    private static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json");

    private SyntheticModel() {
    }

    /**
     * Writes the model folder and returns it.
     *
     * @param size  "1.3b" or "7b"
     * @param dtype F32, F16 or BF16
     */
    public static Path write(Path dir, String size, DType dtype, long seed, SafetensorsWriter.Progress progress) throws IOException {
        if (!size.equals("1.3b") && !size.equals("7b")) {
            throw new IllegalArgumentException("synthetic model size must be 1.3b or 7b, got " + size);
        }
        if (!dtype.isFloatWeight()) {
            throw new IllegalArgumentException("synthetic weights must be F32, F16 or BF16, got " + dtype);
        }
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(resource(size + "/config.json"));
        String torchDtype = switch (dtype) {
            case F32 -> "float32";
            case F16 -> "float16";
            default -> "bfloat16";
        };
        config.put("torch_dtype", torchDtype);
        ((ObjectNode) config.get("language_config")).put("torch_dtype", torchDtype);
        json.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), config);
        for (String file : List.of("preprocessor_config.json", "processor_config.json")) {
            copyResource(size + "/" + file, dir.resolve(file));
        }
        for (String file : TOKENIZER_FILES) {
            copyResource("tokenizer/" + file, dir.resolve(file));
        }
        List<Entry> entries = entries(ModelConfig.load(dir), dtype, seed);
        SafetensorsWriter.writeModel(dir, entries, Map.of("format", "pt"), progress);
        return dir;
    }

    /** Every tensor of the official state dict for this configuration, with its generator. */
    static List<Entry> entries(ModelConfig cfg, DType dtype, long seed) {
        Tensors t = new Tensors(dtype, seed);
        if (cfg.hybrid()) {
            sam(t, HybridVisionTower.HIGH_PREFIX, cfg.sam());
            siglip(t, HybridVisionTower.LOW_PREFIX, cfg.siglip());
            // built by HybridVisionTower with output_dim (= each tower's feature width), never applied
            t.norm("vision_model.high_layer_norm", cfg.sam().outputWidth());
            t.norm("vision_model.low_layer_norm", cfg.siglip().width());
        } else {
            siglip(t, DeepSeekVl.CLIP_TOWER_PREFIX, cfg.siglip());
        }
        AlignerConfig a = cfg.aligner();
        if (a.isHybrid()) {
            t.linear("aligner.high_up_proj", a.nEmbed() / 2, a.inputDim(), true);
            t.linear("aligner.low_up_proj", a.nEmbed() / 2, a.inputDim(), true);
            for (int i = 1; i < a.depth(); i++) {
                t.linear("aligner.layers." + (2 * i - 1), a.nEmbed(), a.nEmbed(), true);
            }
        } else {
            t.linear("aligner.layers.0", a.nEmbed(), a.inputDim(), true);
            for (int i = 1; i < a.depth(); i++) {
                t.linear("aligner.layers." + (2 * i), a.nEmbed(), a.nEmbed(), true);
            }
        }
        var l = cfg.language();
        String p = "language_model.model.";
        t.random(p + "embed_tokens.weight", l.vocabSize(), l.hiddenSize());
        for (int i = 0; i < l.numLayers(); i++) {
            String b = p + "layers." + i + ".";
            t.linear(b + "self_attn.q_proj", l.hiddenSize(), l.hiddenSize(), false);
            t.linear(b + "self_attn.k_proj", l.kvDim(), l.hiddenSize(), false);
            t.linear(b + "self_attn.v_proj", l.kvDim(), l.hiddenSize(), false);
            t.linear(b + "self_attn.o_proj", l.hiddenSize(), l.hiddenSize(), false);
            t.linear(b + "mlp.gate_proj", l.intermediateSize(), l.hiddenSize(), false);
            t.linear(b + "mlp.up_proj", l.intermediateSize(), l.hiddenSize(), false);
            t.linear(b + "mlp.down_proj", l.hiddenSize(), l.intermediateSize(), false);
            t.ones(b + "input_layernorm.weight", l.hiddenSize());
            t.ones(b + "post_attention_layernorm.weight", l.hiddenSize());
        }
        t.ones(p + "norm.weight", l.hiddenSize());
        t.random("language_model.lm_head.weight", l.vocabSize(), l.hiddenSize());
        return t.entries;
    }

    private static void siglip(Tensors t, String p, SigLipConfig c) {
        int d = c.width();
        int patch = c.patchSize();
        t.random(p + "patch_embed.proj.weight", d, 3, patch, patch);
        t.zeros(p + "patch_embed.proj.bias", d);
        t.random(p + "pos_embed", 1, c.numTokens(), d);
        for (int i = 0; i < c.depth(); i++) {
            String b = p + "blocks." + i + ".";
            t.norm(b + "norm1", d);
            t.linear(b + "attn.qkv", 3 * d, d, true);
            t.linear(b + "attn.proj", d, d, true);
            t.norm(b + "norm2", d);
            t.linear(b + "mlp.fc1", c.mlpHidden(), d, true);
            t.linear(b + "mlp.fc2", d, c.mlpHidden(), true);
        }
        t.norm(p + "norm", d);
        // the attention-pool head: in the checkpoint, never run
        String a = p + "attn_pool.";
        t.random(a + "latent", 1, 1, d);
        t.linear(a + "q", d, d, true);
        t.linear(a + "kv", 2 * d, d, true);
        t.linear(a + "proj", d, d, true);
        t.norm(a + "norm", d);
        t.linear(a + "mlp.fc1", c.mlpHidden(), d, true);
        t.linear(a + "mlp.fc2", d, c.mlpHidden(), true);
    }

    private static void sam(Tensors t, String p, SamConfig c) {
        int w = c.width();
        int grid = c.gridSize();
        t.random(p + "patch_embed.proj.weight", w, 3, c.patchSize(), c.patchSize());
        t.zeros(p + "patch_embed.proj.bias", w);
        t.random(p + "pos_embed", 1, grid, grid, w);
        for (int i = 0; i < c.depth(); i++) {
            String b = p + "blocks." + i + ".";
            final int block = i;
            int side = Arrays.stream(c.globalBlocks()).anyMatch(g -> g == block) ? grid : c.windowSize();
            t.norm(b + "norm1", w);
            t.linear(b + "attn.qkv", 3 * w, w, true);
            t.linear(b + "attn.proj", w, w, true);
            t.random(b + "attn.rel_pos_h", 2 * side - 1, c.headDim());
            t.random(b + "attn.rel_pos_w", 2 * side - 1, c.headDim());
            t.norm(b + "norm2", w);
            t.linear(b + "mlp.lin1", c.mlpHidden(), w, true);
            t.linear(b + "mlp.lin2", w, c.mlpHidden(), true);
        }
        for (String neck : List.of("neck.", "neck_hd.")) {
            t.random(p + neck + "0.weight", c.neckChannels(), w, 1, 1);
            t.norm(p + neck + "1", c.neckChannels());
            t.random(p + neck + "2.weight", c.neckChannels(), c.neckChannels(), 3, 3);
            t.norm(p + neck + "3", c.neckChannels());
        }
        int in = c.neckChannels();
        for (int i = 0; i < c.downsampleChannels().length; i++) {
            t.random(p + "downsamples." + i + ".weight", c.downsampleChannels()[i], in, 3, 3);
            in = c.downsampleChannels()[i];
        }
        t.constant(p + "hd_alpha_downsamples", 0.5f, 1);
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = SyntheticModel.class.getResourceAsStream(RESOURCES + name)) {
            if (in == null) {
                throw new IOException("missing resource " + RESOURCES + name);
            }
            return in.readAllBytes();
        }
    }

    private static void copyResource(String name, Path target) throws IOException {
        Files.write(target, resource(name));
    }

    /**
     * Collects entries; each tensor's values come from its own seeded generator, written in 1 MB chunks (also used
     * by the synthetic SigLIP and CLIP checkpoints of {@code ai.vl4j.zeroshot}).
     */
    public static final class Tensors {
        private static final float STD = 0.02f;
        public final List<Entry> entries = new ArrayList<>();
        private final DType dtype;
        private final long seed;

        public Tensors(DType dtype, long seed) {
            this.dtype = dtype;
            this.seed = seed;
        }

        public void linear(String prefix, int out, int in, boolean bias) {
            random(prefix + ".weight", out, in);
            if (bias) {
                zeros(prefix + ".bias", out);
            }
        }

        public void norm(String prefix, int dim) {
            ones(prefix + ".weight", dim);
            zeros(prefix + ".bias", dim);
        }

        public void ones(String name, long... shape) {
            constant(name, 1f, shape);
        }

        public void zeros(String name, long... shape) {
            constant(name, 0f, shape);
        }

        public void constant(String name, float value, long... shape) {
            add(name, shape, null, value);
        }

        public void random(String name, long... shape) {
            add(name, shape, new SplittableRandom(seed ^ name.hashCode() * 0x9E3779B97F4A7C15L), 0f);
        }

        private void add(String name, long[] shape, SplittableRandom random, float value) {
            Entry probe = new Entry(name, dtype, shape, null);
            long count = probe.byteSize() / dtype.size;
            float half = (float) (STD * Math.sqrt(3.0));        // uniform(−a, a) has std a/√3
            entries.add(new Entry(name, dtype, shape, out -> {
                ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
                for (long i = 0; i < count; i++) {
                    float v = random == null ? value : (random.nextFloat() * 2f - 1f) * half;
                    switch (dtype) {
                        case F32 -> buf.putFloat(v);
                        case F16 -> buf.putShort(Float.floatToFloat16(v));
                        default -> buf.putShort(Widen.floatToBf16(v));
                    }
                    if (!buf.hasRemaining()) {
                        flush(buf, out);
                    }
                }
                flush(buf, out);
            }));
        }

        private static void flush(ByteBuffer buf, OutputStream out) throws IOException {
            out.write(buf.array(), 0, buf.position());
            buf.clear();
        }
    }
}
