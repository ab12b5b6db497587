package ai.vl4j.tensor;

import java.util.Arrays;

/**
 * Multi-head scaled dot-product attention over row-major activations, one softmax row at a time
 * (float32, max-subtracted). Queries, keys, values and outputs are addressed as windows of wider buffers, so
 * a fused qkv projection, a KV cache or one attention window among many is read in place.
 *
 * <pre>
 * out[i, h·hd + c] = Σ_j p_ij · v[j, g·hd + c],   p_i = softmax_j(scale · q[i, h·hd ..] · k[j, g·hd ..])
 * g = h / (nHeads / nKvHeads)  (grouped-query attention; g = h when the counts are equal)
 * causal: query i sits at absolute position pos0 + i and sees keys j ≤ pos0 + i
 * </pre>
 */
public final class Attention {
    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[0]);
    private static final int QUERY_BLOCK = 16;

    /**
     * Additive terms for one row of scores, before the softmax (e.g. SAM's decomposed relative positions).
     * Called from worker threads, once per (head, query row).
     */
    @FunctionalInterface
    public interface ScoreBias {
        void add(int head, int queryRow, float[] scores, int keys);
    }

    /**
     * Where the heads' vectors of row 0 start in a row-major buffer, and the distance between rows: row i, head h
     * is at data[offset + i·stride + h·headDim ..]. The offset may skip whole rows (one window of many).
     */
    public record Operand(float[] data, int stride, int offset) {
    }

    private Attention() {
    }

    /**
     * @param causalPos0 absolute position of query row 0 for a causal mask, or -1 for none
     */
    public static void multiHead(Operand q, Operand k, Operand v, Operand out,
                                 int nq, int nk, int nHeads, int nKvHeads, int headDim, float scale, int causalPos0) {
        multiHead(q, k, v, out, nq, nk, nHeads, nKvHeads, headDim, scale, causalPos0, null);
    }

    /** As above, with bias (may be null) added to each row of scaled scores. */
    public static void multiHead(Operand q, Operand k, Operand v, Operand out,
                                 int nq, int nk, int nHeads, int nKvHeads, int headDim, float scale, int causalPos0,
                                 ScoreBias bias) {
        int group = nHeads / nKvHeads;
        int qBlocks = (nq + QUERY_BLOCK - 1) / QUERY_BLOCK;
        Parallel.forRange(0, nHeads * qBlocks, 1, (lo, hi) -> {
            float[] scores = scoreBuffer(nk);
            for (int task = lo; task < hi; task++) {
                int h = task / qBlocks;
                int g = h / group;
                int i0 = (task % qBlocks) * QUERY_BLOCK;
                int i1 = Math.min(nq, i0 + QUERY_BLOCK);
                int qCol = q.offset() + h * headDim;
                int kCol = k.offset() + g * headDim;
                int vCol = v.offset() + g * headDim;
                for (int i = i0; i < i1; i++) {
                    int keys = causalPos0 < 0 ? nk : Math.min(nk, causalPos0 + i + 1);
                    int qRow = i * q.stride() + qCol;
                    for (int j = 0; j < keys; j++) {
                        scores[j] = scale * VectorMath.dot(q.data(), qRow, k.data(), j * k.stride() + kCol, headDim);
                    }
                    if (bias != null) {
                        bias.add(h, i, scores, keys);
                    }
                    VectorMath.softmax(scores, 0, keys);
                    int oRow = i * out.stride() + out.offset() + h * headDim;
                    Arrays.fill(out.data(), oRow, oRow + headDim, 0f);
                    for (int j = 0; j < keys; j++) {
                        VectorMath.axpy(scores[j], v.data(), j * v.stride() + vCol, out.data(), oRow, headDim);
                    }
                }
            }
        });
    }

    private static float[] scoreBuffer(int n) {
        float[] buf = SCORES.get();
        if (buf.length < n) {
            buf = new float[n];
            SCORES.set(buf);
        }
        return buf;
    }
}
