package ai.vl4j.nn;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Norms;

/** nn.LayerNorm over the last dimension: (x - mean)/sqrt(var + eps)·γ + β. */
public final class LayerNorm {
    private final float[] gamma; // [dim]
    private final float[] beta;  // [dim]
    private final float eps;

    public LayerNorm(float[] gamma, float[] beta, float eps) {
        this.gamma = gamma;
        this.beta = beta;
        this.eps = eps;
    }

    public static LayerNorm load(Weights w, String prefix, int dim, float eps) {
        return new LayerNorm(w.requireFloats(prefix + ".weight", dim), w.requireFloats(prefix + ".bias", dim), eps);
    }

    /** out [n, dim] = LN(x [n, dim]); out may be x. */
    public void forward(float[] x, float[] out, int n) {
        Norms.layerNorm(x, out, n, gamma.length, gamma, beta, eps);
    }
}
