package ai.vl4j.nn;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.Tensor;

/** nn.Linear: y = x·Wᵀ + b, W [out, in] kept memory-mapped, b [out] on the heap. */
public final class Linear {
    private final Tensor weight; // [out, in]
    private final float[] bias;  // [out] or null

    public Linear(Tensor weight, float[] bias) {
        this.weight = weight;
        this.bias = bias;
    }

    /** Loads {@code prefix.weight} [out, in] and, when hasBias, {@code prefix.bias} [out]. */
    public static Linear load(Weights w, String prefix, int in, int out, boolean hasBias) {
        Tensor weight = w.require(prefix + ".weight", out, in);
        float[] bias = hasBias ? w.requireFloats(prefix + ".bias", out) : null;
        return new Linear(weight, bias);
    }

    public int in() {
        return (int) weight.dim(1);
    }

    public int out() {
        return (int) weight.dim(0);
    }

    public Tensor weight() {
        return weight;
    }

    /** y [n, out] = x [n, in] · Wᵀ + b. */
    public void forward(float[] x, int n, float[] y) {
        MatMul.linear(x, n, weight, bias, y);
    }
}
