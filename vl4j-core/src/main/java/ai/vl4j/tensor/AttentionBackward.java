package ai.vl4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Gradients of {@link Attention#multiHead} (causal or not, grouped kv heads, no score bias) from the forward's
 * output and the log-sum-exp of each row's scores, recomputing the probabilities instead of keeping them (as
 * flash-attention's backward pass does): for head h over kv head g, query row i and visible key j,
 * <pre>
 *   p_ij = exp((scale·q_i)·k_j − lse_i)          D_i = dO_i·O_i          dS_ij = p_ij·(dO_i·v_j − D_i)
 *   dq_i = scale·Σ_j dS_ij·k_j        dk_j = scale·Σ_(h in g) Σ_i dS_ij·q_i        dv_j = Σ_(h in g) Σ_i p_ij·dO_i
 * </pre>
 * Kv heads are shared out over the threads: a task writes the dk and dv of its kv head, and the dq of its heads.
 */
public final class AttentionBackward {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = FS.length();
    // per thread: one query row's scaled query, probabilities and dS of its visible keys
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][] {new float[0], new float[0], new float[0]});

    private AttentionBackward() {
    }

    /**
     * dq, dk and dv (written, not accumulated) of the attention that gave out from q, k and v; addressing as in
     * {@link Attention#multiHead}. dk and dv rows are zeroed first, so they may be windows of one buffer with dq
     * (a fused qkv's gradient), as q, k and v may be of one buffer.
     *
     * @param lse        the forward's lse[h·nq + i]
     * @param causalPos0 absolute position of query row 0 for a causal mask (query i sees keys j ≤ causalPos0 + i), or -1
     */
    public static void multiHead(Attention.Operand q, Attention.Operand k, Attention.Operand v, Attention.Operand out,
                                 Attention.Operand dOut, float[] lse, Attention.Operand dq, Attention.Operand dk, Attention.Operand dv,
                                 int nq, int nk, int nHeads, int nKvHeads, int hd, float scale, int causalPos0) {
        int group = nHeads / nKvHeads;
        Parallel.forRange(0, nKvHeads, 1, (lo, hi) -> {
            float[][] scratch = SCRATCH.get();
            if (scratch[0].length < hd || scratch[1].length < nk) {
                scratch[0] = new float[Math.max(hd, scratch[0].length)];
                scratch[1] = new float[Math.max(nk, scratch[1].length)];
                scratch[2] = new float[Math.max(nk, scratch[2].length)];
            }
            float[] qs = scratch[0];
            float[] p = scratch[1];
            float[] ds = scratch[2];
            for (int g = lo; g < hi; g++) {
                for (int j = 0; j < nk; j++) {
                    java.util.Arrays.fill(dk.data(), dk.at(j, g, hd), dk.at(j, g, hd) + hd, 0f);
                    java.util.Arrays.fill(dv.data(), dv.at(j, g, hd), dv.at(j, g, hd) + hd, 0f);
                }
                for (int h = g * group; h < (g + 1) * group; h++) {
                    for (int i = 0; i < nq; i++) {
                        int keys = causalPos0 < 0 ? nk : Math.min(nk, causalPos0 + i + 1);
                        int qi = q.at(i, h, hd);
                        for (int c = 0; c < hd; c++) {
                            qs[c] = q.data()[qi + c] * scale;          // as the forward scales its queries
                        }
                        int doi = dOut.at(i, h, hd);
                        float d = VectorMath.dot(dOut.data(), doi, out.data(), out.at(i, h, hd), hd);
                        float l = lse[h * nq + i];
                        for (int j = 0; j < keys; j++) {
                            p[j] = FastMath.exp(VectorMath.dot(qs, 0, k.data(), k.at(j, g, hd), hd) - l);
                            ds[j] = p[j] * (VectorMath.dot(dOut.data(), doi, v.data(), v.at(j, g, hd), hd) - d);
                        }
                        // dq_i = scale·Σ_j dS_ij·k_j
                        int dqi = dq.at(i, h, hd);
                        java.util.Arrays.fill(dq.data(), dqi, dqi + hd, 0f);
                        for (int j = 0; j < keys; j++) {
                            axpy(ds[j] * scale, k.data(), k.at(j, g, hd), dq.data(), dqi, hd);
                            axpy(ds[j] * scale, q.data(), qi, dk.data(), dk.at(j, g, hd), hd);
                            axpy(p[j], dOut.data(), doi, dv.data(), dv.at(j, g, hd), hd);
                        }
                    }
                }
            }
        });
    }

    /** y[yo + c] += alpha·x[xo + c], c < n. */
    private static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        int c = 0;
        FloatVector a = FloatVector.broadcast(FS, alpha);
        for (; c <= n - LANES; c += LANES) {
            FloatVector.fromArray(FS, x, xo + c).fma(a, FloatVector.fromArray(FS, y, yo + c)).intoArray(y, yo + c);
        }
        for (; c < n; c++) {
            y[yo + c] += alpha * x[xo + c];
        }
    }
}
