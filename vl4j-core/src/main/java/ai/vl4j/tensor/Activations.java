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
