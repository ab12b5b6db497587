package ai.vl4j.siglip;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.vision.SigLipConfig;
import ai.vl4j.vision.SigLipVit;
import ai.vl4j.zeroshot.TowerConfig;

/**
 * SigLIP's vision tower (HF {@code SiglipVisionTransformer}), spec §7: DeepSeek-VL's {@link SigLipVit} read from
 * the HF names, followed by the attention-pooling head.
 * <pre>
 *   pixel_values [3, S, S] (normalised by the processor)  →  SigLipVit: patch conv + position embedding,
 *   layers × Block, post_layernorm                                                     H [N, D]
 *   image_features = AttentionPoolHead(H)                                              [D]
 * </pre>
 */
public final class SiglipVisionTower {
    private final TowerConfig cfg;
    private final SigLipVit vit;
    private final AttentionPoolHead head;

    public SiglipVisionTower(TowerConfig cfg, Weights w) {
        this.cfg = cfg;
        // mean/std null: the image processor has normalised the pixels already
        SigLipConfig vitCfg = new SigLipConfig(cfg.imageSize(), cfg.patchSize(), cfg.hiddenSize(), cfg.layers(), cfg.heads(),
                cfg.intermediateSize(), null, null);
        this.vit = new SigLipVit(vitCfg, cfg.layerSpec(false), w, SigLipVit.Names.hf("vision_model."));
        this.head = new AttentionPoolHead(cfg, w);
    }

    public TowerConfig config() {
        return cfg;
    }

    /** image_features [D] of pixel_values [3, S, S]. */
    public float[] forward(float[] pixelValues) {
        float[] h = vit.forward(pixelValues);                // [N, D]
        return head.forward(h, vit.numTokens());
    }
}
