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
        Parallel.forRange(0, n, 1 << 14, (lo, hi) -> {
            FastMath.siluMul(gate, up, lo, hi);
        });
    }
}
