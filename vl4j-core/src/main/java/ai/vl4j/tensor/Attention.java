package ai.vl4j.tensor;

/**
 * Multi-head scaled dot-product attention over row-major activations, one softmax row at a time
 * (float32, max-subtracted). Queries, keys and values are addressed as column windows of wider buffers, so
 * a fused qkv projection or a KV cache is read in place.
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

    /** Where a head's vectors sit: buffer, row stride and first column. */
    public record Operand(float[] data, int stride, int offset) {
    }

    private Attention() {
    }

    /**
     * @param causalPos0 absolute position of query row 0 for a causal mask, or -1 for none
     */
    public static void multiHead(Operand q, Operand k, Operand v, float[] out, int outStride,
                                 int nq, int nk, int nHeads, int nKvHeads, int headDim, float scale, int causalPos0) {
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
                    VectorMath.softmax(scores, 0, keys);
                    int oRow = i * outStride + h * headDim;
                    java.util.Arrays.fill(out, oRow, oRow + headDim, 0f);
                    for (int j = 0; j < keys; j++) {
                        VectorMath.axpy(scores[j], v.data(), j * v.stride() + vCol, out, oRow, headDim);
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
