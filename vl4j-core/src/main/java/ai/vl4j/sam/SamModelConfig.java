package ai.vl4j.sam;

import ai.vl4j.config.ConfigNode;
import java.nio.file.Path;

/**
 * A Hugging Face {@code SamModel} config.json (spec SAM §1): {@code vision_config}, {@code prompt_encoder_config}
 * and {@code mask_decoder_config}, each key defaulting to SAM-B's value when absent (newer transformers write
 * only the keys that differ). Keys vl4j does not use ({@code intermediate_size}, {@code projection_dim},
 * dropouts) are ignored.
 */
public record SamModelConfig(ImageEncoder.Config vision, PromptEncoder.Config prompt, MaskDecoder.Config decoder) {

    public static SamModelConfig load(Path folder) {
        return fromJson(ConfigNode.load(folder.resolve("config.json")));
    }

    public static SamModelConfig fromJson(ConfigNode root) {
        String type = root.optString("model_type", "sam");
        if (!type.equals("sam")) {
            throw root.error("model_type", "is " + type + "; vl4j segment needs a SAM checkpoint (model_type sam, SamModel)");
        }
        ConfigNode v = root.child("vision_config");
        ConfigNode p = root.child("prompt_encoder_config");
        ConfigNode d = root.child("mask_decoder_config");
        requireAct(v, "gelu");
        requireAct(p, "gelu");
        requireAct(d, "relu");

        int width = v.optInt("hidden_size", 768);
        int mlpDim = v.has("mlp_dim") ? v.requireInt("mlp_dim") : (int) (width * v.optDouble("mlp_ratio", 4.0));
        int[] global = v.has("global_attn_indexes") ? v.optInts("global_attn_indexes") : new int[] {2, 5, 8, 11};
        ImageEncoder.Config vision = new ImageEncoder.Config(v.optInt("image_size", 1024), v.optInt("patch_size", 16), width,
                v.optInt("num_hidden_layers", 12), v.optInt("num_attention_heads", 12), mlpDim, global,
                v.optInt("window_size", 14), v.optInt("output_channels", 256), (float) v.optDouble("layer_norm_eps", 1e-6),
                v.optBoolean("qkv_bias", true), v.optBoolean("use_abs_pos", true), v.optBoolean("use_rel_pos", true));
        if (v.optInt("num_channels", 3) != 3) {
            throw v.error("num_channels", "is " + v.optInt("num_channels", 3) + "; SAM takes RGB images (3)");
        }

        int c = p.optInt("hidden_size", 256);
        int imageSize = p.optInt("image_size", 1024);
        int patch = p.optInt("patch_size", 16);
        PromptEncoder.Config prompt = new PromptEncoder.Config(c, imageSize, p.optInt("image_embedding_size", imageSize / patch),
                p.optInt("mask_input_channels", 16), (float) p.optDouble("layer_norm_eps", 1e-6));
        if (p.optInt("num_point_embeddings", 4) != 4) {
            throw p.error("num_point_embeddings", "is " + p.optInt("num_point_embeddings", 4) + "; SAM has 4 (background, foreground, two box corners)");
        }

        MaskDecoder.Config decoder = new MaskDecoder.Config(d.optInt("hidden_size", 256), d.optInt("num_hidden_layers", 2),
                d.optInt("num_attention_heads", 8), d.optInt("mlp_dim", 2048), d.optInt("attention_downsample_rate", 2),
                d.optInt("num_multimask_outputs", 3), d.optInt("iou_head_depth", 3), d.optInt("iou_head_hidden_dim", 256));

        if (vision.outChannels() != c || decoder.hiddenSize() != c) {
            throw p.error("hidden_size", "is " + c + " but vision_config.output_channels is " + vision.outChannels()
                    + " and mask_decoder_config.hidden_size " + decoder.hiddenSize() + "; they must agree");
        }
        if (imageSize != vision.imageSize() || prompt.embeddingSize() != vision.gridSize()) {
            throw p.error("image_size", "(" + imageSize + ", embedding side " + prompt.embeddingSize()
                    + ") does not match vision_config (image " + vision.imageSize() + ", grid " + vision.gridSize() + ")");
        }
        if (c % 8 != 0 || prompt.maskInputChannels() % 4 != 0 || c % decoder.downsampleRate() != 0
                || (c / decoder.downsampleRate()) % decoder.heads() != 0) {
            throw d.error("hidden_size", "(" + c + ") does not divide into the decoder's heads, downsampling and upscaling widths");
        }
        return new SamModelConfig(vision, prompt, decoder);
    }

    private static void requireAct(ConfigNode node, String expected) {
        String act = node.optString("hidden_act", expected);
        if (!act.equals(expected)) {
            throw node.error("hidden_act", "is " + act + "; SAM uses " + expected + " here");
        }
    }
}
