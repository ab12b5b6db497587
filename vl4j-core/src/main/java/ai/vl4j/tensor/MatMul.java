package ai.vl4j.tensor;


/**
 * The linear-layer kernel: out[n, m] = x[n, k] · Wᵀ + b, with W [m, k] a stored weight (F32/F16/BF16,
 * memory-mapped, never copied to the heap, or Q8_0/Q4_0) and x, out float32 row-major.
 *
 * <p>Two kernels, and the caller says which its rows need ({@link Regime}). Decode (one new token of each of a
 * few sequences) is bound by memory bandwidth: {@link Gemv} (16-bit and float32 weights) and {@link QuantGemv}
 * stream each weight row once, widening in registers, and serve every input row from that one pass. Prefill, the
 * vision towers and convolutions (many rows) are bound by arithmetic: {@link Gemm} packs panels of weights once
 * per cache block and runs a register-blocked micro-kernel over all input rows. A language model's BF16 weights
 * are re-laid at load into column panels ({@link PackedWeight}): decode then takes {@link PanelGemv}, which spends
 * each weight on every row of a batch from registers, and prefill's packing becomes a vector widening. The Java
 * kernels sum each output in an order that does not depend on the other rows, so a row's result depends only on
 * its kernel: a sequence decoded in a batch gets the bits it gets alone, and a prompt prefilled in pieces (or after
 * a cached prefix) the bits of one whole prefill. So a prompt's rows ({@link Regime#PREFILL}) take {@link Gemm} (unless
 * bfloat16 inputs were asked for, {@link Backends#selectCompute}: then speed, not those bits, is the point); the other
 * products of many rows (the towers, convolutions, training) go to the {@link ComputeBackend} in effect
 * ({@link Backends#active()}), which may be oneDNN, whose blocking may follow the number of rows.
 */
public final class MatMul {

    private MatMul() {
    }

    /** Which kernel a product's rows take, and so which order each row's sums are taken in. */
    public enum Regime {
        /** Rows of one sequence's prompt (prefill, training): the GEMM for any number of rows. */
        PREFILL,
        /** One new position of each of several sequences (decode): the streaming kernels for any number of rows. */
        DECODE,
        /** By row count: the streaming kernels up to 8 rows, the GEMM beyond (where no invariance is needed). */
        AUTO
    }

    /** Rows up to which {@link Regime#AUTO} streams the weights. */
    private static final int AUTO_STREAM_ROWS = 8;

    /** {@link #linear(float[], int, WeightMatrix, float[], float[], Regime)} with {@link Regime#AUTO}. */
    public static void linear(float[] x, int n, WeightMatrix w, float[] bias, float[] out) {
        linear(x, n, w, bias, out, Regime.AUTO);
    }

    /**
     * out[i, r] = Σ_j x[i, j]·W[r, j] + bias[r] for i < n, r < m.
     *
     * @param x    input rows [n, k]
     * @param w    weight [m, k]
     * @param bias [m] or null
     * @param out  output rows [n, m]; must not alias x
     */
    public static void linear(float[] x, int n, WeightMatrix w, float[] bias, float[] out, Regime regime) {
        int m = w.rows();
        int k = w.cols();
        checkBuffers(x, n, w, out);
        if (streams(regime, n)) {
            RowKernel kernel = streamingKernel(x, n, k, w);
            Parallel.forRange(0, units(w), grain(w), (lo, hi) -> kernel.rows(w, bias, out, lo, hi));
        } else if (regime == Regime.PREFILL && !Backends.bf16Inputs()) {
            JavaBackend.INSTANCE.linear(x, n, w, bias, out);    // a prompt's rows: the same bits however it is cut
        } else {
            Backends.active().linear(x, n, w, bias, out);
        }
    }

    /**
     * outs[i] = x · ws[i]ᵀ for several weights that read the same input (q, k and v; gate and up). When the
     * weights are streamed and share one storage kind, the rows of all of them are shared out in one parallel
     * pass, saving the hand-off to the worker threads that each separate product would pay (about 40 µs each,
     * measured as the gap between small and large decode products); otherwise one {@link #linear} after the other.
     * Each output row is what {@link #linear} gives it.
     */
    public static void linearMany(float[] x, int n, WeightMatrix[] ws, float[][] outs, Regime regime) {
        int k = ws[0].cols();
        if (!streams(regime, n) || !sameKind(ws)) {
            for (int i = 0; i < ws.length; i++) {
                linear(x, n, ws[i], null, outs[i], regime);
            }
            return;
        }
        RowKernel kernel = streamingKernel(x, n, k, ws[0]);
        int total = 0;
        for (int i = 0; i < ws.length; i++) {
            checkBuffers(x, n, ws[i], outs[i]);
            total += units(ws[i]);
        }
        Parallel.forRange(0, total, grain(ws[0]), (lo, hi) -> {
            int start = 0;
            for (int i = 0; i < ws.length && start < hi; i++) {
                int m = units(ws[i]);
                int a = Math.max(lo, start) - start;
                int b = Math.min(hi, start + m) - start;
                if (a < b) {
                    kernel.rows(ws[i], null, outs[i], a, b);
                }
                start += m;
            }
        });
    }

    /** {@link #linearMany(float[], int, WeightMatrix[], float[][], Regime)} with {@link Regime#AUTO}. */
    public static void linearMany(float[] x, int n, WeightMatrix[] ws, float[][] outs) {
        linearMany(x, n, ws, outs, Regime.AUTO);
    }

    /** Backward of {@link #linear} with respect to its input: dx [n, k] = dy [n, m] · W, W [m, k], on the backend in effect. */
    public static void backwardInput(float[] dy, int n, WeightMatrix w, float[] dx) {
        if ((long) n * w.rows() > dy.length || (long) n * w.cols() > dx.length) {
            throw new IllegalArgumentException("backward of " + w.name() + ": buffers too small for n=" + n);
        }
        Backends.active().backwardInput(dy, n, w, dx);
    }

    /** Backward of {@link #linear} with respect to its weight: dw [m, k] += dyᵀ · x, with dy [n, m] and x [n, k]. */
    public static void backwardWeight(float[] dy, float[] x, int n, int m, int k, float[] dw) {
        Backends.active().backwardWeight(dy, x, n, m, k, dw);
    }

    private static boolean streams(Regime regime, int n) {
        return regime == Regime.DECODE || regime == Regime.AUTO && n <= AUTO_STREAM_ROWS;
    }

    /**
     * The outputs of work units [lo, hi) of x · wᵀ (+ bias) into out, with x prepared once for every matrix it is
     * used with. A unit is an output row, or for a {@link PackedWeight} a group of panels ({@link PanelGemv}).
     */
    private interface RowKernel {
        void rows(WeightMatrix w, float[] bias, float[] out, int lo, int hi);
    }

    /** Work units of w for the streaming kernels. */
    private static int units(WeightMatrix w) {
        return w instanceof PackedWeight p ? PanelGemv.units(p) : w.rows();
    }

    /** Units per parallel chunk (about 32k weights). */
    private static int grain(WeightMatrix w) {
        return w instanceof PackedWeight ? PanelGemv.grain(w.cols()) : Gemv.grain(w.cols());
    }

    /**
     * The streaming kernel for this kind of weight, its n input rows prepared: {@link PanelGemv} (packed),
     * {@link QuantGemv} or {@link Gemv}.
     */
    private static RowKernel streamingKernel(float[] x, int n, int k, WeightMatrix kind) {
        if (kind instanceof PackedWeight) {
            return (w, bias, out, lo, hi) -> PanelGemv.units(x, n, (PackedWeight) w, bias, out, lo, hi);
        }
        if (kind instanceof QuantizedTensor qt) {
            QuantGemv.Q8Activations xq = QuantGemv.prepare(x, n, k, qt.type());
            return (w, bias, out, lo, hi) -> QuantGemv.rows(x, xq, n, k, (QuantizedTensor) w, w.rows(), bias, out, lo, hi);
        }
        float[] xd = Gemv.prepare(x, n, k, ((Tensor) kind).dtype());
        return (w, bias, out, lo, hi) -> Gemv.rows(x, n, k, (Tensor) w, bias, out, w.rows(), xd, lo, hi);
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
                    || w instanceof QuantizedTensor q && ws[0] instanceof QuantizedTensor q0 && q.type() == q0.type()
                    || w instanceof PackedWeight && ws[0] instanceof PackedWeight);
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
