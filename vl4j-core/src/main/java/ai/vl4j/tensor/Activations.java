package ai.vl4j.tensor;

/** Element-wise activations, in place. */
public final class Activations {
    private Activations() {
    }

    /** Exact (erf) GELU on x[0 .. n), as nn.GELU() by default. */
    public static void gelu(float[] x, int n) {
        Parallel.forRange(0, n, 1 << 14, (lo, hi) -> {
            FastMath.gelu(x, lo, hi);
        });
    }

    /**
     * GELU of biased rows, then a few weighted sums of them, in one pass over x: for columns c &lt; n,
     * <pre>
     *   out[outOff + j·outStride + c] = Σ_{i &lt; k} w[j·k + i]·gelu(x[xOff + i·n + c] + bias[biasOff + i])      j &lt; m
     * </pre>
     * x [k, n] channel-major (each channel's n values contiguous), w [m, k]; x is left as it was. Vectors run along
     * the columns (one multiply-add a weight, no horizontal sums); each block of columns is activated once into a
     * small scratch that the m sums then read from cache. For an activation whose only use is a handful of
     * weighted sums over its channels (SAM's masks from its upscaled features), where writing it and reading it
     * back would cost more than the sums.
     */
    public static void geluThenCombine(float[] x, int xOff, int k, int n, float[] bias, int biasOff, float[] w, int m,
                                       float[] out, int outOff, int outStride) {
        if (xOff + (long) k * n > x.length || biasOff + k > bias.length || (long) m * k > w.length
                || outOff + (long) (m - 1) * outStride + n > out.length) {
            throw new IllegalArgumentException("geluThenCombine: buffers too small for k=" + k + ", n=" + n + ", m=" + m);
        }
        int block = 64;
        Parallel.forRange(0, (n + block - 1) / block, Math.max(1, 512 / k), (lo, hi) -> {
            float[] g = new float[k * block];
            for (int b = lo; b < hi; b++) {
                int c0 = b * block;
                int width = Math.min(block, n - c0);
                for (int i = 0; i < k; i++) {
                    FastMath.geluBiased(x, xOff + i * n + c0, bias[biasOff + i], g, i * block, width);
                }
                for (int j = 0; j < m; j++) {
                    VectorMath.combine(g, 0, block, k, w, j * k, out, outOff + j * outStride + c0, width);
                }
            }
        });
    }

    /** Tanh-approximated GELU on x[0 .. n) ({@code gelu_pytorch_tanh}; SigLIP's towers). */
    public static void geluTanh(float[] x, int n) {
        Parallel.forRange(0, n, 1 << 14, (lo, hi) -> {
            FastMath.geluTanh(x, lo, hi);
        });
    }

    /** Quick GELU x·σ(1.702·x) on x[0 .. n) ({@code quick_gelu}; OpenAI CLIP's towers). */
    public static void quickGelu(float[] x, int n) {
        Parallel.forRange(0, n, 1 << 14, (lo, hi) -> {
            FastMath.quickGelu(x, lo, hi);
        });
    }

    /** ReLU on x[0 .. n): max(x, 0) in place. */
    public static void relu(float[] x, int n) {
        for (int i = 0; i < n; i++) {
            x[i] = Math.max(x[i], 0f);
        }
    }

    /**
     * SwiGLU gate of LLaMA's MLP: gate[i] = silu(gate[i]) · up[i], with silu(z) = z / (1 + e^-z),
     * over the first n elements.
     */
    public static void siluMul(float[] gate, float[] up, int n) {
        siluMul(gate, up, gate, n);
    }

    /** out[i] = silu(gate[i]) · up[i] over the first n elements (out may be gate). */
    public static void siluMul(float[] gate, float[] up, float[] out, int n) {
        Parallel.forRange(0, n, 1 << 14, (lo, hi) -> {
            FastMath.siluMul(gate, up, out, lo, hi);
        });
    }

    /**
     * Backward of {@link #siluMul}: with act = silu(g)·u, σ = 1/(1 + e^−g):  dg = dAct·u·σ·(1 + g·(1 − σ)),
     * du = dAct·silu(g).
     */
    public static void siluMulBackward(float[] gate, float[] up, float[] dAct, float[] dGate, float[] dUp, int n) {
        Parallel.forRange(0, n, 1 << 14, (lo, hi) -> {
            FastMath.siluMulBackward(gate, up, dAct, dGate, dUp, lo, hi);
        });
    }

    /**
     * Backward of the exact GELU, x·Φ(x): dx = dy·(Φ(x) + x·φ(x)), φ the standard normal density (x is the GELU's
     * input); dx may be dy.
     */
    public static void geluBackward(float[] x, float[] dy, float[] dx, int n) {
        Parallel.forRange(0, n, 1 << 14, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                double v = x[i];
                double cdf = 0.5 * (1 + Erf.erf(v / Math.sqrt(2)));
                double pdf = Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
                dx[i] = (float) (dy[i] * (cdf + v * pdf));
            }
        });
    }
}
