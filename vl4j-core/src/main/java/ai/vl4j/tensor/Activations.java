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
}
