package ai.vl4j.zeroshot;

import ai.vl4j.config.ConfigNode;
import ai.vl4j.nn.Activation;
import ai.vl4j.vision.SigLipVit;

/**
 * A {@code text_config} or {@code vision_config} of a Hugging Face CLIP or SigLIP {@code config.json}: the keys both
 * families share, each taken from the file or, when absent, from the family's own defaults (transformers 4.43's
 * config classes: real checkpoints such as google/siglip-base-patch16-224 spell out only what differs).
 *
 * @param hiddenSize       D, the tower's width
 * @param intermediateSize the MLP's hidden width
 * @param layers           encoder layers
 * @param heads            attention heads
 * @param layerNormEps     every LayerNorm's eps
 * @param activation       the MLP's {@code hidden_act}
 * @param vocabSize        text: token embedding rows
 * @param maxPositions     text: position embedding rows
 * @param eosTokenId       text: {@code eos_token_id} (CLIP pools at it; 2 selects the legacy argmax rule)
 * @param imageSize        vision: input side S
 * @param patchSize        vision: patch side P
 */
public record TowerConfig(int hiddenSize, int intermediateSize, int layers, int heads, float layerNormEps, Activation activation,
                          int vocabSize, int maxPositions, int eosTokenId, int imageSize, int patchSize) {

    /** {@code SiglipTextConfig()}. */
    public static final TowerConfig SIGLIP_TEXT = new TowerConfig(768, 3072, 12, 12, 1e-6f, Activation.GELU_TANH, 32000, 64, 49407, 0, 0);
    /** {@code SiglipVisionConfig()}. */
    public static final TowerConfig SIGLIP_VISION = new TowerConfig(768, 3072, 12, 12, 1e-6f, Activation.GELU_TANH, 0, 0, 0, 224, 16);
    /** {@code CLIPTextConfig()}. */
    public static final TowerConfig CLIP_TEXT = new TowerConfig(512, 2048, 12, 8, 1e-5f, Activation.QUICK_GELU, 49408, 77, 49407, 0, 0);
    /** {@code CLIPVisionConfig()}. */
    public static final TowerConfig CLIP_VISION = new TowerConfig(768, 3072, 12, 12, 1e-5f, Activation.QUICK_GELU, 0, 0, 0, 224, 32);

    /** The sub-config {@code key} of config.json (absent: all defaults). */
    public static TowerConfig fromJson(ConfigNode root, String key, TowerConfig defaults) {
        ConfigNode c = root.optChild(key);
        if (c == null) {
            return defaults;
        }
        TowerConfig cfg = new TowerConfig(
                positive(c, "hidden_size", defaults.hiddenSize), positive(c, "intermediate_size", defaults.intermediateSize),
                positive(c, "num_hidden_layers", defaults.layers), positive(c, "num_attention_heads", defaults.heads),
                (float) c.optDouble("layer_norm_eps", defaults.layerNormEps), Activation.fromConfig(c, "hidden_act", defaults.activation),
                defaults.vocabSize == 0 ? 0 : positive(c, "vocab_size", defaults.vocabSize),
                defaults.maxPositions == 0 ? 0 : positive(c, "max_position_embeddings", defaults.maxPositions),
                c.optInt("eos_token_id", defaults.eosTokenId),
                defaults.imageSize == 0 ? 0 : positive(c, "image_size", defaults.imageSize),
                defaults.patchSize == 0 ? 0 : positive(c, "patch_size", defaults.patchSize));
        if (cfg.hiddenSize % cfg.heads != 0) {
            throw c.error("hidden_size", "(" + cfg.hiddenSize + ") is not a multiple of num_attention_heads (" + cfg.heads + ")");
        }
        return cfg;
    }

    private static int positive(ConfigNode c, String key, int fallback) {
        int v = c.optInt(key, fallback);
        if (v < 1) {
            throw c.error(key, "must be positive, got " + v);
        }
        return v;
    }

    /**
     * Patches per side of a vision tower: ⌊S / P⌋, as the "valid" patch convolution (SigLIP so400m-patch14-384 sees
     * 27 × 27 patches of 14 and never the last 6 pixels).
     */
    public int grid() {
        return imageSize / patchSize;
    }

    /** The encoder layer these sizes describe. */
    public SigLipVit.LayerSpec layerSpec(boolean causal) {
        return new SigLipVit.LayerSpec(hiddenSize, heads, intermediateSize, layerNormEps, activation, causal);
    }
}
