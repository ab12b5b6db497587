package ai.vl4j.siglip;

import ai.vl4j.nn.LayerNorm;
import ai.vl4j.nn.Linear;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.VectorMath;
import ai.vl4j.zeroshot.TowerConfig;

/**
 * SigLIP's multihead attention-pooling head (HF {@code SiglipMultiheadAttentionPoolingHead}), spec §7: one learned
 * query (the probe) attends over the image tokens.
 * <pre>
 *   q = probe·W_qᵀ + b_q                        [1, D]   (in_proj rows 0..D; the same for every image: computed once)
 *   k, v = H·W_kᵀ + b_k, H·W_vᵀ + b_v            [N, D]   (in_proj rows D..3D)
 *   a = out_proj(MHA(q, k, v))                  [1, D]
 *   image_features = a + fc2(act(fc1(LN(a))))   [D]
 * </pre>
 * Weights under {@code vision_model.head.}: probe [1, 1, D], attention.{in_proj_weight [3D, D], in_proj_bias,
 * out_proj}, layernorm, mlp.{fc1, fc2}.
 */
public final class AttentionPoolHead {
    private static final String PREFIX = "vision_model.head.";

    private final TowerConfig cfg;
    private final Linear inProj;     // [3D, D]: q | k | v
    private final float[] probeQkv;  // [3D]: in_proj(probe), of which q is used
    private final Linear outProj;    // [D, D]
    private final LayerNorm norm;
    private final Linear fc1;        // [mlp, D]
    private final Linear fc2;        // [D, mlp]

    public AttentionPoolHead(TowerConfig cfg, Weights w) {
        this.cfg = cfg;
        int d = cfg.hiddenSize();
        this.inProj = new Linear(w.require(PREFIX + "attention.in_proj_weight", 3L * d, d),
                w.require(PREFIX + "attention.in_proj_bias", 3L * d));
        this.probeQkv = new float[3 * d];
        inProj.forward(w.requireFloats(PREFIX + "probe", 1, 1, d), 1, probeQkv);
        this.outProj = Linear.load(w, PREFIX + "attention.out_proj", d, d, true);
        this.norm = LayerNorm.load(w, PREFIX + "layernorm", d, cfg.layerNormEps());
        this.fc1 = Linear.load(w, PREFIX + "mlp.fc1", d, cfg.intermediateSize(), true);
        this.fc2 = Linear.load(w, PREFIX + "mlp.fc2", cfg.intermediateSize(), d, true);
    }

    /** image_features [D] of the tower's output tokens h [n, D]. */
    public float[] forward(float[] h, int n) {
        int d = cfg.hiddenSize();
        int hd = d / cfg.heads();
        float[] qkv = new float[n * 3 * d];                  // [N, 3D]; only k and v are read
        inProj.forward(h, n, qkv);
        float[] attn = new float[d];                         // [1, D]
        Attention.multiHead(
                new Attention.Operand(probeQkv, 3 * d, 0),
                new Attention.Operand(qkv, 3 * d, d),
                new Attention.Operand(qkv, 3 * d, 2 * d),
                new Attention.Operand(attn, d, 0), 1, n, cfg.heads(), cfg.heads(), hd, (float) (1.0 / Math.sqrt(hd)), -1);
        float[] a = new float[d];
        outProj.forward(attn, 1, a);
        // a + mlp(layernorm(a))
        float[] normed = new float[d];
        norm.forward(a, normed, 1);
        float[] hidden = new float[cfg.intermediateSize()];
        fc1.forward(normed, 1, hidden);
        cfg.activation().apply(hidden, hidden.length);
        float[] mlp = new float[d];
        fc2.forward(hidden, 1, mlp);
        VectorMath.addInPlace(a, mlp, d);
        return a;
    }
}
