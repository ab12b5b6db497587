package ai.vl4j.nn;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Norms;

/** LLaMA's RMSNorm: x / sqrt(mean(x²) + eps) · w, computed in float32. */
public final class RmsNorm {
    private final float[] weight; // [dim]
    private final float eps;

    public RmsNorm(float[] weight, float eps) {
        this.weight = weight;
        this.eps = eps;
    }

    public static RmsNorm load(Weights w, String name, int dim, float eps) {
        return new RmsNorm(w.requireFloats(name, dim), eps);
    }

    /** out [n, dim] = RMSNorm(x [n, dim]); out may be x. */
    public void forward(float[] x, float[] out, int n) {
        Norms.rmsNorm(x, out, n, weight.length, weight, eps);
    }
}
