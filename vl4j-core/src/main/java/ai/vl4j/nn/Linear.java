package ai.vl4j.nn;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.tensor.QuantizedTensor;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.tensor.WeightMatrix;
import java.lang.foreign.Arena;
import java.util.List;

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

    /**
     * Equal linear layers that read the same input, stacked into one [out, in] (their outputs side by side in each
     * row, in the order given): {@code prefixes[i].weight} [out / k, in] and, when hasBias, {@code prefixes[i].bias},
     * for k prefixes. One prefix is simply {@link #load}; more are copied into one dense weight (HF's separate
     * q/k/v projections as timm's fused qkv).
     */
    public static Linear loadStacked(Weights w, List<String> prefixes, int in, int out, boolean hasBias) {
        if (prefixes.size() == 1) {
            return load(w, prefixes.getFirst(), in, out, hasBias);
        }
        int outEach = out / prefixes.size();
        Tensor[] parts = new Tensor[prefixes.size()];
        float[] bias = hasBias ? new float[outEach * parts.length] : null;
        for (int i = 0; i < parts.length; i++) {
            parts[i] = w.require(prefixes.get(i) + ".weight", outEach, in);
            if (hasBias) {
                System.arraycopy(w.requireFloats(prefixes.get(i) + ".bias", outEach), 0, bias, i * outEach, outEach);
            }
        }
        return new Linear(Tensor.concatRows(String.join("+", prefixes), parts), bias);
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
}
