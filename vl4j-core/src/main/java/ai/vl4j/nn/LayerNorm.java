package ai.vl4j.nn;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Norms;
import java.util.List;

/** nn.LayerNorm over the last dimension: (x - mean)/sqrt(var + eps)·γ + β. */
public final class LayerNorm implements Module {
    private final Parameter gamma; // [dim]
    private final Parameter beta;  // [dim]
    private final float eps;

    public LayerNorm(Parameter gamma, Parameter beta, float eps) {
        this.gamma = gamma;
        this.beta = beta;
        this.eps = eps;
    }

    public static LayerNorm load(Weights w, String prefix, int dim, float eps) {
        return new LayerNorm(Parameter.vector(w.require(prefix + ".weight", dim)), Parameter.vector(w.require(prefix + ".bias", dim)), eps);
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(gamma, beta);
    }

    /** Backward of {@link #forward} on x [n, dim] given dy: dx (written; null: not needed), dγ and dβ while they train. */
    public void backward(float[] x, int n, float[] dy, float[] dx) {
        float[] g = gamma.values();
        Norms.layerNormBackward(x, dy, n, g.length, g, eps, dx, gamma.trainable() ? gamma.grad() : null,
                beta.trainable() ? beta.grad() : null);
    }

    /** out [n, dim] = LN(x [n, dim]); out may be x. */
    public void forward(float[] x, float[] out, int n) {
        float[] g = gamma.values();
        Norms.layerNorm(x, out, n, g.length, g, beta.values(), eps);
    }
}
