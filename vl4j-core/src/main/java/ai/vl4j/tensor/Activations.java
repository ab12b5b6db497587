package ai.vl4j.tensor;

/** Element-wise activations, in place. */
public final class Activations {
    private Activations() {
    }

    /** Exact (erf) GELU on x[0 .. n), as nn.GELU() by default. */
    public static void gelu(float[] x, int n) {
        Parallel.forRange(0, n, 1 << 14, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                x[i] = Erf.gelu(x[i]);
            }
        });
    }

    /**
     * SwiGLU gate of LLaMA's MLP: gate[i] = silu(gate[i]) · up[i], with silu(z) = z / (1 + e^-z),
     * over the first n elements.
     */
    public static void siluMul(float[] gate, float[] up, int n) {
        Parallel.forRange(0, n, 1 << 14, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float z = gate[i];
                gate[i] = (float) (z / (1.0 + Math.exp(-z))) * up[i];
            }
        });
    }
}
