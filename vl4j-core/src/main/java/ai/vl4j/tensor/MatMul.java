package ai.vl4j.tensor;


/**
 * The linear-layer kernel: out[n, m] = x[n, k] · Wᵀ + b, with W [m, k] a stored weight (F32/F16/BF16,
 * memory-mapped, never copied to the heap) and x, out float32 row-major.
 *
 * <p>Two regimes. Decode (up to 8 rows: one sequence, or a batch of sequences) is bound by memory bandwidth:
 * {@link Gemv} (≤ 4 rows), {@link GemvBatch} (5–8) and {@link QuantGemv} stream each weight row once,
 * widening in registers, and serve every row from that one pass.
 * Prefill, the vision towers and convolutions (more rows) are bound by arithmetic: {@link Gemm} packs
 * panels of weights once per cache block and runs a register-blocked micro-kernel over all input rows.
 */
public final class MatMul {

    private MatMul() {
    }

    /**
     * out[i, r] = Σ_j x[i, j]·W[r, j] + bias[r] for i < n, r < m.
     *
     * @param x    input rows [n, k]
     * @param w    weight [m, k]
     * @param bias [m] or null
     * @param out  output rows [n, m]; must not alias x
     */
    public static void linear(float[] x, int n, WeightMatrix w, float[] bias, float[] out) {
        int m = w.rows();
        int k = w.cols();
        if ((long) n * k > x.length || (long) n * m > out.length) {
            throw new IllegalArgumentException("linear " + w.name() + ": buffers too small for n=" + n);
        }
        if (n <= 4) {
            if (w instanceof QuantizedTensor qt) {
                QuantGemv.multiply(x, n, k, qt, m, bias, out);
            } else {
                Gemv.multiply(x, n, k, (Tensor) w, m, bias, out);
            }
        } else if (n <= GemvBatch.MAX && w instanceof Tensor t && t.dtype() != DType.F32) {
            // 5..8 rows (batched decode): one pass over the weights, 2 rows × 8 vectors per step
            GemvBatch.multiply(x, n, k, t, m, bias, out);
        } else if (n <= GemvBatch.MAX && w instanceof QuantizedTensor qt) {
            // two passes of at most 4 vectors: still one weight pass per 4 sequences
            QuantGemv.multiply(x, 4, k, qt, m, null, out);
            float[] rest = java.util.Arrays.copyOfRange(x, 4 * k, n * k);
            float[] restOut = new float[(n - 4) * m];
            QuantGemv.multiply(rest, n - 4, k, qt, m, null, restOut);
            System.arraycopy(restOut, 0, out, 4 * m, restOut.length);
            addBias(out, n, m, bias);
        } else {
            Gemm.multiply(x, n, k, w::rowToFloat, m, bias, out);
        }
    }

    private static void addBias(float[] out, int n, int m, float[] bias) {
        if (bias != null) {
            for (int i = 0; i < n; i++) {
                for (int r = 0; r < m; r++) {
                    out[i * m + r] += bias[r];
                }
            }
        }
    }

    /**
     * The obviously correct kernel, kept for tests: each output a double-precision sum in index order,
     * weights widened one at a time.
     */
    public static void reference(float[] x, int n, WeightMatrix w, float[] bias, float[] out) {
        int m = w.rows();
        int k = w.cols();
        float[] row = new float[k];
        for (int r = 0; r < m; r++) {
            w.rowToFloat(r, 0, k, row, 0);
            for (int i = 0; i < n; i++) {
                double s = bias == null ? 0 : bias[r];
                for (int j = 0; j < k; j++) {
                    s += (double) x[i * k + j] * row[j];
                }
                out[i * m + r] = (float) s;
            }
        }
    }
}
