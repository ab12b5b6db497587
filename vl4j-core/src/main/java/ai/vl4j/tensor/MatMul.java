package ai.vl4j.tensor;


/**
 * The linear-layer kernel: out[n, m] = x[n, k] · Wᵀ + b, with W [m, k] a stored weight (F32/F16/BF16,
 * memory-mapped, never copied to the heap) and x, out float32 row-major.
 *
 * <p>Two regimes. Decode (up to 8 rows: one sequence, or a batch of sequences) is bound by memory bandwidth:
 * {@link Gemv} (≤ 4 rows), {@link GemvBatch} (5–8) and {@link QuantGemv} (≤ 8) stream each weight row once,
 * widening in registers, and serve every input row from that one pass.
 * Prefill, the vision towers and convolutions (more rows) are bound by arithmetic: they go to the
 * {@link ComputeBackend} in effect ({@link Backends#active()}): {@link Gemm}'s register-blocked Vector API
 * kernels, or oneDNN.
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
        checkBuffers(x, n, w, out);
        RowKernel kernel = streamingKernel(x, n, k, w);
        if (kernel != null) {
            Parallel.forRange(0, m, Gemv.grain(k), (lo, hi) -> kernel.rows(w, bias, out, lo, hi));
        } else {
            Backends.active().linear(x, n, w, bias, out);
        }
    }

    /**
     * outs[i] = x · ws[i]ᵀ for several weights that read the same input (q, k and v; gate and up). For decode
     * (up to 8 rows, the regimes of {@link #linear} that stream the weights) and weights of one storage kind, the
     * rows of all of them are shared out in one parallel pass, saving the hand-off to the worker threads that
     * each separate product would pay (about 40 µs each, measured as the gap between small and large decode
     * products); otherwise one {@link #linear} after the other.
     */
    public static void linearMany(float[] x, int n, WeightMatrix[] ws, float[][] outs) {
        int k = ws[0].cols();
        RowKernel kernel = sameKind(ws) ? streamingKernel(x, n, k, ws[0]) : null;
        if (kernel == null) {
            for (int i = 0; i < ws.length; i++) {
                linear(x, n, ws[i], null, outs[i]);
            }
            return;
        }
        int total = 0;
        for (int i = 0; i < ws.length; i++) {
            checkBuffers(x, n, ws[i], outs[i]);
            total += ws[i].rows();
        }
        Parallel.forRange(0, total, Gemv.grain(k), (lo, hi) -> {
            int start = 0;
            for (int i = 0; i < ws.length && start < hi; i++) {
                int m = ws[i].rows();
                int a = Math.max(lo, start) - start;
                int b = Math.min(hi, start + m) - start;
                if (a < b) {
                    kernel.rows(ws[i], null, outs[i], a, b);
                }
                start += m;
            }
        });
    }

    /** Output rows [lo, hi) of x · wᵀ (+ bias) into out, with x prepared once for every matrix it is used with. */
    private interface RowKernel {
        void rows(WeightMatrix w, float[] bias, float[] out, int lo, int hi);
    }

    /**
     * The decode kernel for n rows and this kind of weight, its input prepared; null where the GEMM serves (more
     * rows, or 5–8 rows of float32 weights): {@link QuantGemv} up to 8 rows, {@link Gemv} up to 4,
     * {@link GemvBatch} 5–8 (2 weight rows × 8 vectors per step).
     */
    private static RowKernel streamingKernel(float[] x, int n, int k, WeightMatrix kind) {
        if (kind instanceof QuantizedTensor qt && n <= QuantGemv.MAX_VECTORS) {
            QuantGemv.Q8Activations xq = QuantGemv.prepare(x, n, k, qt.type());
            return (w, bias, out, lo, hi) -> QuantGemv.rows(x, xq, n, k, (QuantizedTensor) w, w.rows(), bias, out, lo, hi);
        } else if (kind instanceof Tensor t && n <= 4) {
            float[][] xs = Gemv.prepare(x, n, k, t.dtype());
            return (w, bias, out, lo, hi) -> Gemv.rows(x, n, k, (Tensor) w, bias, out, w.rows(), xs, lo, hi);
        } else if (kind instanceof Tensor t && n <= GemvBatch.MAX && t.dtype() != DType.F32) {
            float[] xd = GemvBatch.prepare(x, n, k, t.dtype());
            return (w, bias, out, lo, hi) -> GemvBatch.rows(x, n, k, (Tensor) w, bias, out, w.rows(), xd, lo, hi);
        }
        return null;
    }

    private static void checkBuffers(float[] x, int n, WeightMatrix w, float[] out) {
        if ((long) n * w.cols() > x.length || (long) n * w.rows() > out.length) {
            throw new IllegalArgumentException("linear " + w.name() + ": buffers too small for n=" + n);
        }
    }

    /** Same input width and the same storage (dtype, or quantization type). */
    private static boolean sameKind(WeightMatrix[] ws) {
        for (WeightMatrix w : ws) {
            boolean same = w.cols() == ws[0].cols() && (w instanceof Tensor t && ws[0] instanceof Tensor t0 && t.dtype() == t0.dtype()
                    || w instanceof QuantizedTensor q && ws[0] instanceof QuantizedTensor q0 && q.type() == q0.type());
            if (!same) {
                return false;
            }
        }
        return true;
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
