package ai.vl4j.zeroshot;

import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.tensor.DType;
import ai.vl4j.vlm.SyntheticModel;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A random-weight SigLIP or CLIP checkpoint in the Hugging Face layout with the shapes of a real one, for benchmarks
 * (classification speed does not depend on the weights' values). The tokenizer is the fixtures' small one (its ids
 * fit any vocabulary); the tensors are those {@code SiglipModel} / {@code CLIPModel} load, with LayerNorm scales 1,
 * biases 0, other weights uniform with standard deviation 0.02.
 */
public final class SyntheticZeroShot {
    private static final String RESOURCES = "/ai/vl4j/synth/";
    private static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json");

    /** A real checkpoint's sizes: family, towers, projection (CLIP). */
    public record Preset(String family, TowerConfig text, TowerConfig vision, int projectionDim) {
    }

    /** Shapes of google/siglip-base-patch16-224, google/siglip-so400m-patch14-384, openai/clip-vit-base-patch32 and -large-patch14. */
    public static final Map<String, Preset> PRESETS = Map.of(
            "siglip-base", new Preset("siglip", TowerConfig.SIGLIP_TEXT, TowerConfig.SIGLIP_VISION, 0),
            "siglip-so400m", new Preset("siglip",
                    new TowerConfig(1152, 4304, 27, 16, 1e-6f, TowerConfig.SIGLIP_TEXT.activation(), 32000, 64, 1, 0, 0),
                    new TowerConfig(1152, 4304, 27, 16, 1e-6f, TowerConfig.SIGLIP_VISION.activation(), 0, 0, 0, 384, 14), 0),
            "clip-b32", new Preset("clip", TowerConfig.CLIP_TEXT, TowerConfig.CLIP_VISION, 512),
            "clip-l14", new Preset("clip",
                    new TowerConfig(768, 3072, 12, 12, 1e-5f, TowerConfig.CLIP_TEXT.activation(), 49408, 77, 2, 0, 0),
                    new TowerConfig(1024, 4096, 24, 16, 1e-5f, TowerConfig.CLIP_VISION.activation(), 0, 0, 0, 224, 14), 768));

    private SyntheticZeroShot() {
    }

    /** Writes the model folder for a preset name (a key of {@link #PRESETS}) and returns it. */
    public static Path write(Path dir, String name, DType dtype, long seed, SafetensorsWriter.Progress progress) throws IOException {
        Preset p = PRESETS.get(name);
        if (p == null) {
            throw new IllegalArgumentException("unknown zero-shot preset " + name + "; known: " + PRESETS.keySet());
        }
        return write(dir, p, dtype, seed, progress);
    }

    /** Writes a model folder with the sizes of p and returns it. */
    public static Path write(Path dir, Preset p, DType dtype, long seed, SafetensorsWriter.Progress progress) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = json.createObjectNode();
        config.putArray("architectures").add(p.family.equals("siglip") ? "SiglipModel" : "CLIPModel");
        config.put("model_type", p.family);
        config.put("torch_dtype", dtype == DType.F32 ? "float32" : dtype == DType.F16 ? "float16" : "bfloat16");
        if (p.family.equals("clip")) {
            config.put("projection_dim", p.projectionDim);
        }
        config.set("text_config", towerJson(json, p.text, true));
        config.set("vision_config", towerJson(json, p.vision, false));
        json.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), config);
        json.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("preprocessor_config.json").toFile(), preprocessor(json, p));
        for (String file : TOKENIZER_FILES) {
            Files.write(dir.resolve(file), resource(p.family + "/" + file));
        }
        SyntheticModel.Tensors t = new SyntheticModel.Tensors(dtype, seed);
        if (p.family.equals("siglip")) {
            siglip(t, p);
        } else {
            clip(t, p);
        }
        SafetensorsWriter.writeModel(dir, t.entries, Map.of("format", "pt"), progress);
        return dir;
    }

    private static ObjectNode towerJson(ObjectMapper json, TowerConfig c, boolean text) {
        ObjectNode n = json.createObjectNode();
        n.put("hidden_size", c.hiddenSize());
        n.put("intermediate_size", c.intermediateSize());
        n.put("num_hidden_layers", c.layers());
        n.put("num_attention_heads", c.heads());
        n.put("layer_norm_eps", c.layerNormEps());
        n.put("hidden_act", switch (c.activation()) {
            case GELU -> "gelu";
            case GELU_TANH -> "gelu_pytorch_tanh";
            case QUICK_GELU -> "quick_gelu";
        });
        if (text) {
            n.put("vocab_size", c.vocabSize());
            n.put("max_position_embeddings", c.maxPositions());
            n.put("eos_token_id", c.eosTokenId());
        } else {
            n.put("image_size", c.imageSize());
            n.put("patch_size", c.patchSize());
        }
        return n;
    }

    private static ObjectNode preprocessor(ObjectMapper json, Preset p) {
        ObjectNode n = json.createObjectNode();
        int s = p.vision.imageSize();
        boolean clip = p.family.equals("clip");
        double[] mean = clip ? new double[] {0.48145466, 0.4578275, 0.40821073} : new double[] {0.5, 0.5, 0.5};
        double[] std = clip ? new double[] {0.26862954, 0.26130258, 0.27577711} : new double[] {0.5, 0.5, 0.5};
        var m = n.putArray("image_mean");
        var d = n.putArray("image_std");
        for (int c = 0; c < 3; c++) {
            m.add(mean[c]);
            d.add(std[c]);
        }
        n.put("resample", 3);
        if (clip) {
            n.put("size", s);
            n.put("crop_size", s);
        } else {
            n.putObject("size").put("height", s).put("width", s);
        }
        return n;
    }

    private static void layers(SyntheticModel.Tensors t, String prefix, TowerConfig c) {
        int d = c.hiddenSize();
        for (int i = 0; i < c.layers(); i++) {
            String b = prefix + "encoder.layers." + i + ".";
            t.norm(b + "layer_norm1", d);
            for (String proj : List.of("q_proj", "k_proj", "v_proj", "out_proj")) {
                t.linear(b + "self_attn." + proj, d, d, true);
            }
            t.norm(b + "layer_norm2", d);
            t.linear(b + "mlp.fc1", c.intermediateSize(), d, true);
            t.linear(b + "mlp.fc2", d, c.intermediateSize(), true);
        }
    }

    private static void siglip(SyntheticModel.Tensors t, Preset p) {
        TowerConfig tx = p.text;
        t.random("text_model.embeddings.token_embedding.weight", tx.vocabSize(), tx.hiddenSize());
        t.random("text_model.embeddings.position_embedding.weight", tx.maxPositions(), tx.hiddenSize());
        layers(t, "text_model.", tx);
        t.norm("text_model.final_layer_norm", tx.hiddenSize());
        t.linear("text_model.head", tx.hiddenSize(), tx.hiddenSize(), true);
        TowerConfig v = p.vision;
        int d = v.hiddenSize();
        t.random("vision_model.embeddings.patch_embedding.weight", d, 3, v.patchSize(), v.patchSize());
        t.zeros("vision_model.embeddings.patch_embedding.bias", d);
        t.random("vision_model.embeddings.position_embedding.weight", (long) v.grid() * v.grid(), d);
        layers(t, "vision_model.", v);
        t.norm("vision_model.post_layernorm", d);
        t.random("vision_model.head.probe", 1, 1, d);
        t.random("vision_model.head.attention.in_proj_weight", 3L * d, d);
        t.zeros("vision_model.head.attention.in_proj_bias", 3L * d);
        t.linear("vision_model.head.attention.out_proj", d, d, true);
        t.norm("vision_model.head.layernorm", d);
        t.linear("vision_model.head.mlp.fc1", v.intermediateSize(), d, true);
        t.linear("vision_model.head.mlp.fc2", d, v.intermediateSize(), true);
        t.constant("logit_scale", (float) Math.log(10), 1);
        t.constant("logit_bias", -10f, 1);
    }

    private static void clip(SyntheticModel.Tensors t, Preset p) {
        TowerConfig tx = p.text;
        t.random("text_model.embeddings.token_embedding.weight", tx.vocabSize(), tx.hiddenSize());
        t.random("text_model.embeddings.position_embedding.weight", tx.maxPositions(), tx.hiddenSize());
        layers(t, "text_model.", tx);
        t.norm("text_model.final_layer_norm", tx.hiddenSize());
        t.random("text_projection.weight", p.projectionDim, tx.hiddenSize());
        TowerConfig v = p.vision;
        int d = v.hiddenSize();
        t.random("vision_model.embeddings.class_embedding", d);
        t.random("vision_model.embeddings.patch_embedding.weight", d, 3, v.patchSize(), v.patchSize());
        t.random("vision_model.embeddings.position_embedding.weight", 1L + (long) v.grid() * v.grid(), d);
        t.norm("vision_model.pre_layrnorm", d);
        layers(t, "vision_model.", v);
        t.norm("vision_model.post_layernorm", d);
        t.random("visual_projection.weight", p.projectionDim, d);
        t.constant("logit_scale", (float) Math.log(100));
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = SyntheticZeroShot.class.getResourceAsStream(RESOURCES + name)) {
            if (in == null) {
                throw new IOException("missing resource " + RESOURCES + name);
            }
            return in.readAllBytes();
        }
    }
}
