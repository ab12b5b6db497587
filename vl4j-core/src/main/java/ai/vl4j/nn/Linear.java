package ai.vl4j.nn;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.tensor.QuantizedTensor;
import ai.vl4j.tensor.WeightMatrix;
import java.lang.foreign.Arena;

/**
 * nn.Linear: y = x·Wᵀ + b, W [out, in] kept memory-mapped (or quantized off-heap), b [out] on the heap.
 */
public final class Linear {
    private final WeightMatrix weight; // [out, in]
    private final float[] bias;        // [out] or null

    public Linear(WeightMatrix weight, float[] bias) {
        this.weight = weight;
        this.bias = bias;
    }

    /** Loads {@code prefix.weight} [out, in] (dense, or quantized in the folder) and, when hasBias, {@code prefix.bias} [out]. */
    public static Linear load(Weights w, String prefix, int in, int out, boolean hasBias) {
        WeightMatrix weight = w.requireMatrix(prefix + ".weight", out, in);
        float[] bias = hasBias ? w.requireFloats(prefix + ".bias", out) : null;
        return new Linear(weight, bias);
    }

    /** As {@link #load}, quantizing a dense weight to `quant` in arena's memory (quant null: as stored). */
    public static Linear load(Weights w, String prefix, int in, int out, boolean hasBias, QuantType quant, Arena arena) {
        Linear dense = load(w, prefix, in, out, hasBias);
        if (quant == null || dense.weight instanceof QuantizedTensor) {
            return dense;
        }
        return new Linear(QuantizedTensor.quantize(dense.weight, quant, arena), dense.bias);
    }

    public int in() {
        return weight.cols();
    }

    public int out() {
        return weight.rows();
    }

    public WeightMatrix weight() {
        return weight;
    }

    /** y [n, out] = x [n, in] · Wᵀ + b. */
    public void forward(float[] x, int n, float[] y) {
        MatMul.linear(x, n, weight, bias, y);
    }

    /** As above, with the kernel the rows need (see {@link MatMul.Regime}). */
    public void forward(float[] x, int n, float[] y, MatMul.Regime regime) {
        MatMul.linear(x, n, weight, bias, y, regime);
    }
}
