package ai.vl4j.tensor;

import java.lang.foreign.MemorySegment;

/**
 * The linear-layer kernel: out[n, m] = x[n, k] · Wᵀ + b, with W [m, k] a stored weight (F32/F16/BF16,
 * memory-mapped, never copied to the heap) and x, out float32 row-major.
 *
 * <p>Two regimes. Decode (up to 4 rows: one sequence, or a small batch) is bound by memory bandwidth:
 * {@link Gemv} streams each weight row once, widening in registers, and serves every row from that one pass.
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
    public static void linear(float[] x, int n, Tensor w, float[] bias, float[] out) {
        if (w.rank() != 2) {
            throw new IllegalArgumentException("weight " + w.name() + " is not a matrix");
        }
        int m = (int) w.dim(0);
        int k = (int) w.dim(1);
        if ((long) n * k > x.length || (long) n * m > out.length) {
            throw new IllegalArgumentException("linear " + w.name() + ": buffers too small for n=" + n);
        }
        if (n <= 4) {
            Gemv.multiply(x, n, k, w, m, bias, out);
        } else {
            MemorySegment seg = w.data();
            DType dtype = w.dtype();
            Gemm.multiply(x, n, k, (row, k0, len, dst, off) -> Widen.toFloat(seg, dtype, (long) row * k + k0, dst, off, len),
                    m, bias, out);
        }
    }

    /**
     * The obviously correct kernel, kept for tests: each output a double-precision sum in index order,
     * weights widened one at a time.
     */
    public static void reference(float[] x, int n, Tensor w, float[] bias, float[] out) {
        int m = (int) w.dim(0);
        int k = (int) w.dim(1);
        for (int i = 0; i < n; i++) {
            for (int r = 0; r < m; r++) {
                double s = bias == null ? 0 : bias[r];
                for (int j = 0; j < k; j++) {
                    s += (double) x[i * k + j] * w.getFloat((long) r * k + j);
                }
                out[i * m + r] = (float) s;
            }
        }
    }
}
