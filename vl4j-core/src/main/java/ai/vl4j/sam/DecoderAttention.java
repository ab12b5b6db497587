package ai.vl4j.sam;

import ai.vl4j.nn.Linear;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.ShortAttention;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.tensor.VectorMath;

/**
 * The two-way transformer's attention (official {@code transformer.Attention}): projections to an internal
 * width (C, or C/2 with downsample rate 2), heads side by side, softmax(QKᵀ/√(head dim))·V, projection back:
 * <pre>
 *   out = out_proj(MultiHead(q_proj(q), k_proj(k), v_proj(v)))       q [nq, C], k and v [nk, C] -> [nq, C]
 * </pre>
 * Batched over prompts: queries and keys of prompt b are rows b·nq .. and b·nk .. of their arrays. The projections
 * are also available apart, so that a side every prompt shares (the image, before the first layer changes it) is
 * projected once: its rows then serve every prompt (stride 0). Where one side is the prompt's few tokens (token →
 * image, image → token) the attention itself runs in {@link ShortAttention}, which lays the short side across the
 * vector lanes; the tokens' self-attention (both sides short) in {@link Attention}.
 */
final class DecoderAttention {
    private final Linear q, k, v, out;   // [I, C] ×3, [C, I]
    private final int heads;
    private final int internal;          // I
    /** Rows up to which a side counts as short ({@link ShortAttention}): the prompt's tokens, never the image. */
    private static final int SHORT = 64;

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
        if (nq <= SHORT && nq < nk) {
            return fewQueries(queries, keys, values, batch, nq, nk);
        }
        if (nk <= SHORT && nk < nq) {
            return fewKeys(queries, keys, values, batch, nq, nk);
        }
        return attend(projectQueries(queries, batch * nq), projectKeys(keys, batch * nk), projectValues(values, batch * nk),
                batch, nq, nk, nq, nk);
    }

    /**
     * The prompt's tokens attending to each prompt's own image rows, with k_proj and v_proj folded into the
     * tokens: per head h, with Σ_j p_j = 1 and a term constant over the keys dropping out of the softmax,
     * <pre>
     *   (scale·q_h)·(Wk_h k_j + bk_h) = (scale·Wk_hᵀ q_h)·k_j + const       q̃ [nq·heads, C]
     *   Σ_j p_j (Wv_h v_j + bv_h)     = Wv_h (Σ_j p_j v_j) + bv_h           z [nq·heads, C]
     * </pre>
     * so the nk image rows enter two products with nq·heads rows (scores S = k·q̃ᵀ [nk, nq·heads], then z = Pᵀ·v)
     * instead of being projected twice: in SAM-B 4096·256·56 multiply-adds per product instead of 4096·256·128
     * per projection. Equal to {@link #attend} on the projections up to rounding.
     */
    private float[] fewQueries(float[] queries, float[] keys, float[] values, int batch, int nq, int nk) {
        int c = k.in();
        int hd = internal / heads;
        int rows = nq * heads;                                   // (token, head) pairs, token-major
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] qp = projectQueries(queries, batch * nq);        // [B·nq, I]
        float[] mixed = new float[batch * nq * internal];        // [B·nq, I]
        float[] perHead = new float[rows * internal];            // row (t, h): scale·q_h in head h's columns, 0 elsewhere
        float[] folded = new float[rows * c];                    // q̃ [nq·heads, C]
        float[] scores = new float[nk * rows];                   // S, then exp(S − column max) [nk, nq·heads]
        float[] sums = new float[rows];
        float[] z = new float[rows * c];                         // Σ_j e_j v_j [nq·heads, C]
        float[] projected = new float[rows * internal];          // Wv z + bv, every head's columns [nq·heads, I]
        for (int b = 0; b < batch; b++) {
            java.util.Arrays.fill(perHead, 0f);
            for (int t = 0; t < nq; t++) {
                for (int h = 0; h < heads; h++) {
                    VectorMath.scale(qp, (b * nq + t) * internal + h * hd, scale, perHead, (t * heads + h) * internal + h * hd, hd);
                }
            }
            MatMul.backwardInput(perHead, rows, k.weight(), folded);                       // q̃ = perHead · Wk
            float[] keysB = rowsOf(keys, b, nk * c);
            MatMul.linear(keysB, nk, Tensor.view("folded queries", folded, rows, c), null, scores);
            ShortAttention.expColumns(scores, nk, rows, sums);
            float[] valuesB = values == keys ? keysB : rowsOf(values, b, nk * c);
            java.util.Arrays.fill(z, 0f);
            MatMul.backwardWeight(scores, valuesB, nk, rows, c, z);                       // z = Eᵀ · v
            for (int r = 0; r < rows; r++) {
                VectorMath.scale(z, r * c, 1f / sums[r], z, r * c, c);
            }
            v.forward(z, rows, projected);
            for (int t = 0; t < nq; t++) {                                               // head h of row (t, h)
                for (int h = 0; h < heads; h++) {
                    System.arraycopy(projected, (t * heads + h) * internal + h * hd, mixed, (b * nq + t) * internal + h * hd, hd);
                }
            }
        }
        return project(out, mixed, batch * nq);
    }

    /**
     * Each prompt's own image rows attending to the prompt's tokens, with q_proj and out_proj folded into the
     * tokens: per head h and token key i (kp = k_proj(k), vp = v_proj(v)),
     * <pre>
     *   (scale·(Wq_h y + bq_h))·kp_{i,h} = y·(scale·Wq_hᵀ kp_{i,h}) + scale·bq_h·kp_{i,h}    k̃ [heads·nk, C], c [heads·nk]
     *   out_proj(⊕_h Σ_i p_{h,i} vp_{i,h}) = Σ_{h,i} p_{h,i} (Wo_h vp_{i,h}) + bo             u [heads·nk, C]
     * </pre>
     * so the nq image rows y enter two products with heads·nk columns (S = y·k̃ᵀ + c, then P·u) instead of q_proj
     * and out_proj: SAM-B's image → token attention takes 2·4096·256·56 multiply-adds instead of 2·4096·256·128.
     * Equal to {@link #attend} on the projections up to rounding.
     */
    private float[] fewKeys(float[] queries, float[] keys, float[] values, int batch, int nq, int nk) {
        int c = q.in();
        float[] bq = q.biasParameter().values();
        return foldedFewKeys(projectKeys(keys, batch * nk), projectValues(values, batch * nk), batch, nq, nk, (b, perHeadK, scores) -> {
            int cols = heads * nk;
            float[] folded = new float[cols * c];                                          // k̃ = perHeadK · Wq
            MatMul.backwardInput(perHeadK, cols, q.weight(), folded);
            float[] bias = new float[cols];                                                // c = perHeadK · bq
            for (int r = 0; r < cols; r++) {
                bias[r] = VectorMath.dot(perHeadK, r * internal, bq, 0, internal);
            }
            MatMul.linear(rowsOf(queries, b, nq * c), nq, Tensor.view("folded keys", folded, cols, c), bias, scores);
        });
    }

    /**
     * As {@link #fewKeys} for image rows whose queries every prompt shares and are already projected, qp [nq, I]
     * (the first layer's, {@link TwoWayTransformer.ImageSide}): S = qp·k̂ᵀ with k̂ the tokens' scale·kp in their head's
     * columns [heads·nk, I] (nq·I·heads·nk multiply-adds, a quarter of k̃'s in SAM-B), then the folded out_proj P·u.
     * Replaces {@link #attend}(qp, k_proj(tokens), v_proj(tokens)): no per-prompt [nq, I] mix and no out_proj of it.
     */
    float[] fewKeysSharedQueries(float[] qp, float[] keys, float[] values, int batch, int nq, int nk) {
        int cols = heads * nk;
        return foldedFewKeys(projectKeys(keys, batch * nk), projectValues(values, batch * nk), batch, nq, nk,
                (b, perHeadK, scores) -> MatMul.linear(qp, nq, Tensor.view("scaled token keys", perHeadK, cols, internal), null, scores));
    }

    /** Prompt b's scores S [nq, heads·nk] (column h·nk + i: head h, token key i) from k̂ = perHeadK [heads·nk, I]. */
    private interface Scores {
        void of(int b, float[] perHeadK, float[] scores);
    }

    /**
     * The few-keys attention of batch prompts, kp and vp [batch·nk, I] the tokens' projections, with out_proj folded
     * into the values (u = per-head vp · Woᵀ, {@link #fewKeys}); scores gives each prompt's S, to which the
     * softmax runs over each head's nk keys. [batch·nq, C].
     */
    private float[] foldedFewKeys(float[] kp, float[] vp, int batch, int nq, int nk, Scores scoresOf) {
        int c = out.out();
        int hd = internal / heads;
        int cols = heads * nk;                                   // (head, token) pairs, head-major
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] perHeadK = new float[cols * internal];           // row (h, i): scale·kp_{i,h} in head h's columns, 0 elsewhere
        float[] perHeadV = new float[cols * internal];           // row (h, i): vp_{i,h} likewise
        float[] u = new float[cols * c];                         // u [heads·nk, C]
        float[] uT = new float[c * cols];                        // uᵀ [C, heads·nk]: the last product's weight
        float[] scores = new float[nq * cols];                   // S, then P [nq, heads·nk]
        float[] result = new float[batch * nq * c];
        float[] bo = out.biasParameter().values();
        for (int b = 0; b < batch; b++) {
            java.util.Arrays.fill(perHeadK, 0f);
            java.util.Arrays.fill(perHeadV, 0f);
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < nk; i++) {
                    int from = (b * nk + i) * internal + h * hd;
                    int to = (h * nk + i) * internal + h * hd;
                    VectorMath.scale(kp, from, scale, perHeadK, to, hd);
                    System.arraycopy(vp, from, perHeadV, to, hd);
                }
            }
            MatMul.linear(perHeadV, cols, out.weight(), null, u);                        // u = perHeadV · Woᵀ
            for (int r = 0; r < cols; r++) {
                for (int j = 0; j < c; j++) {
                    uT[j * cols + r] = u[r * c + j];
                }
            }
            scoresOf.of(b, perHeadK, scores);
            ShortAttention.softmaxRuns(scores, nq * heads, nk);
            float[] y = b == 0 ? result : new float[nq * c];
            MatMul.linear(scores, nq, Tensor.view("folded values", uT, c, cols), bo, y);
            if (b > 0) {
                System.arraycopy(y, 0, result, b * nq * c, nq * c);
            }
        }
        return result;
    }

    /** Prompt b's part [b·size, (b + 1)·size) of x, as an array starting at 0: x itself for the first prompt (no copy). */
    private static float[] rowsOf(float[] x, int b, int size) {
        return b == 0 ? x : java.util.Arrays.copyOfRange(x, b * size, (b + 1) * size);
    }

    float[] projectQueries(float[] x, int n) {
        return project(q, x, n);
    }

    float[] projectKeys(float[] x, int n) {
        return project(k, x, n);
    }

    float[] projectValues(float[] x, int n) {
        return project(v, x, n);
    }

    /**
     * out_proj of the attention of projected queries qp, keys kp and values vp [·, I]; prompt b's queries start at row
     * b·queryStride and its keys and values at b·keyStride (0: one set shared by all prompts). [batch·nq, C].
     */
    float[] attend(float[] qp, float[] kp, float[] vp, int batch, int nq, int nk, int queryStride, int keyStride) {
        int hd = internal / heads;
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] mixed = new float[batch * nq * internal];
        Attention.Operand qs = new Attention.Operand(qp, internal, 0);
        Attention.Operand ks = new Attention.Operand(kp, internal, 0);
        Attention.Operand vs = new Attention.Operand(vp, internal, 0);
        Attention.Operand os = new Attention.Operand(mixed, internal, 0);
        if (nk <= SHORT && nk < nq) {               // the image attends to the prompt's tokens
            ShortAttention.fewKeys(qs, ks, vs, os, batch, nq, nk, queryStride, keyStride, heads, hd, scale);
            return project(out, mixed, batch * nq);
        }
        if (nq <= SHORT && nq < nk) {               // the tokens attend to the image
            ShortAttention.fewQueries(qs, ks, vs, os, batch, nq, nk, queryStride, keyStride, heads, hd, scale);
            return project(out, mixed, batch * nq);
        }
        for (int b = 0; b < batch; b++) {
            Attention.multiHead(
                    new Attention.Operand(qp, internal, b * queryStride * internal),
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
