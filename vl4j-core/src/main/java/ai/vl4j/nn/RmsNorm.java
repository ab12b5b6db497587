package ai.vl4j.nn;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Norms;
import java.util.List;

/** LLaMA's RMSNorm: x / sqrt(mean(x²) + eps) · w, computed in float32. */
public final class RmsNorm implements Module {
    private final Parameter weight; // [dim]
    private final float eps;

    public RmsNorm(Parameter weight, float eps) {
        this.weight = weight;
        this.eps = eps;
    }

    public static RmsNorm load(Weights w, String name, int dim, float eps) {
        return new RmsNorm(Parameter.vector(w.require(name, dim)), eps);
    }

    public Parameter weight() {
        return weight;
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(weight);
    }

    /** Backward of {@link #forward} on x [n, dim] given dy: dx (written), and dw while the weight trains. */
    public void backward(float[] x, int n, float[] dy, float[] dx) {
        float[] w = weight.values();
        Norms.rmsNormBackward(x, dy, n, w.length, w, eps, dx, weight.trainable() ? weight.grad() : null);
    }

    /** out [n, dim] = RMSNorm(x [n, dim]); out may be x. */
    public void forward(float[] x, float[] out, int n) {
        float[] w = weight.values();
        Norms.rmsNorm(x, out, n, w.length, w, eps);
    }
}
