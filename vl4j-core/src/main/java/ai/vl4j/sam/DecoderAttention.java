package ai.vl4j.sam;

import ai.vl4j.nn.Linear;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Attention;

/**
 * The two-way transformer's attention (official {@code transformer.Attention}): projections to an internal
 * width (C, or C/2 with downsample rate 2), heads side by side, softmax(QKᵀ/√(head dim))·V, projection back:
 * <pre>
 *   out = out_proj(MultiHead(q_proj(q), k_proj(k), v_proj(v)))       q [nq, C], k and v [nk, C] -> [nq, C]
 * </pre>
 * Batched over prompts: queries and keys of prompt b are rows b·nq .. and b·nk .. of their arrays.
 */
final class DecoderAttention {
    private final Linear q, k, v, out;   // [I, C] ×3, [C, I]
    private final int heads;
    private final int internal;          // I

    DecoderAttention(Weights w, String prefix, int width, int downsampleRate, int heads) {
        this.internal = width / downsampleRate;
        this.heads = heads;
        this.q = Linear.load(w, prefix + "q_proj", width, internal, true);
        this.k = Linear.load(w, prefix + "k_proj", width, internal, true);
        this.v = Linear.load(w, prefix + "v_proj", width, internal, true);
        this.out = Linear.load(w, prefix + "out_proj", internal, width, true);
    }

    /** [batch·nq, C] for queries [batch·nq, C], keys and values [batch·nk, C]. */
    float[] forward(float[] queries, float[] keys, float[] values, int batch, int nq, int nk) {
        float[] qp = project(q, queries, batch * nq);
        float[] kp = project(k, keys, batch * nk);
        float[] vp = project(v, values, batch * nk);
        return attend(qp, kp, vp, batch, nq, nk);
    }

    /** As {@link #forward} with keys and values already projected (shared by every prompt: kp, vp [nk, I]). */
    float[] forwardShared(float[] queries, float[] kp, float[] vp, int batch, int nq, int nk) {
        return attend(project(q, queries, batch * nq), kp, vp, batch, nq, nk, 0);
    }

    /** k_proj and v_proj of keys and values [n, C]: {kp, vp}, each [n, I]. */
    float[][] projectKeys(float[] keys, float[] values, int n) {
        return new float[][] {project(k, keys, n), project(v, values, n)};
    }

    private float[] attend(float[] qp, float[] kp, float[] vp, int batch, int nq, int nk) {
        return attend(qp, kp, vp, batch, nq, nk, nk);
    }

    /** keyStride: rows between prompts' keys (nk, or 0 when all prompts share them). */
    private float[] attend(float[] qp, float[] kp, float[] vp, int batch, int nq, int nk, int keyStride) {
        int hd = internal / heads;
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] mixed = new float[batch * nq * internal];
        for (int b = 0; b < batch; b++) {
            Attention.multiHead(
                    new Attention.Operand(qp, internal, b * nq * internal),
                    new Attention.Operand(kp, internal, b * keyStride * internal),
                    new Attention.Operand(vp, internal, b * keyStride * internal),
                    new Attention.Operand(mixed, internal, b * nq * internal),
                    nq, nk, heads, heads, hd, scale, -1);
        }
        return project(out, mixed, batch * nq);
    }

    private static float[] project(Linear layer, float[] x, int n) {
        float[] y = new float[n * layer.out()];
        layer.forward(x, n, y);
        return y;
    }
}
