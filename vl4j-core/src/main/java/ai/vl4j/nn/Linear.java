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
 * nn.Linear: y = x·Wᵀ + b, W [out, in] kept memory-mapped (or quantized off-heap) until it trains, b [out].
 */
public final class Linear implements Module {
    private final Parameter weight; // [out, in]
    private final Parameter bias;   // [out] or null

    public Linear(Parameter weight, Parameter bias) {
        this.weight = weight;
        this.bias = bias;
    }

    /** A linear layer over a stored weight matrix (and bias values), e.g. a convolution's weight seen as a matrix. */
    public Linear(Tensor weight, Tensor bias) {
        this(Parameter.matrix(weight, weight.rank() == 2 ? weight : weight.reshape(weight.dim(0), weight.numel() / weight.dim(0))),
                bias == null ? null : Parameter.vector(bias));
    }

    /** Loads {@code prefix.weight} [out, in] (dense, or quantized in the folder) and, when hasBias, {@code prefix.bias} [out]. */
    public static Linear load(Weights w, String prefix, int in, int out, boolean hasBias) {
        WeightMatrix reading = w.requireMatrix(prefix + ".weight", out, in);
        Tensor stored = reading instanceof Tensor t ? t : w.get(prefix + ".weight");
        Parameter bias = hasBias ? Parameter.vector(w.require(prefix + ".bias", out)) : null;
        return new Linear(stored == null ? Parameter.quantized(reading) : Parameter.matrix(stored, reading), bias);
    }

    /** As {@link #load}, quantizing a dense weight to `quant` in arena's memory (quant null: as stored). */
    public static Linear load(Weights w, String prefix, int in, int out, boolean hasBias, QuantType quant, Arena arena) {
        Linear dense = load(w, prefix, in, out, hasBias);
        if (quant == null || dense.weight() instanceof QuantizedTensor) {
            return dense;
        }
        Tensor stored = dense.weight.stored();
        return new Linear(Parameter.matrix(stored, QuantizedTensor.quantize(stored, quant, arena)), dense.bias);
    }

    public int in() {
        return weight.matrix().cols();
    }

    public int out() {
        return weight.matrix().rows();
    }

    /** The matrix the kernels multiply by now (stored, quantized, or the float32 values being trained). */
    public WeightMatrix weight() {
        return weight.matrix();
    }

    public Parameter weightParameter() {
        return weight;
    }

    /** The bias, or null. */
    public Parameter biasParameter() {
        return bias;
    }

    @Override
    public List<Parameter> parameters() {
        return bias == null ? List.of(weight) : List.of(weight, bias);
    }

    /** y [n, out] = x [n, in] · Wᵀ + b. */
    public void forward(float[] x, int n, float[] y) {
        forward(x, n, y, MatMul.Regime.AUTO);
    }

    /** As above, with the kernel the rows need (see {@link MatMul.Regime}). */
    public void forward(float[] x, int n, float[] y, MatMul.Regime regime) {
        MatMul.linear(x, n, weight.matrix(), bias == null ? null : bias.values(), y, regime);
    }

    /**
     * Several linear layers without biases that read the same input (q, k and v; gate and up): each output is what
     * its layer's own {@link #forward} gives, computed in one pass where the kernels allow it.
     */
    public static final class Group {
        private final Linear[] layers;
        private final WeightMatrix[] matrices;

        public Group(Linear... layers) {
            for (Linear l : layers) {
                if (l.bias != null) {
                    throw new IllegalArgumentException("a group of linear layers takes no biases: " + l.weight.name());
                }
            }
            this.layers = layers.clone();
            this.matrices = new WeightMatrix[layers.length];
        }

        /** outs[i] [n, out_i] = x [n, in] · W_iᵀ. */
        public void forward(float[] x, int n, float[][] outs, MatMul.Regime regime) {
            for (int i = 0; i < layers.length; i++) {
                matrices[i] = layers[i].weight.matrix();   // a layer that started training is read in float32
            }
            MatMul.linearMany(x, n, matrices, outs, regime);
        }

    }
}
