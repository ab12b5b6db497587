package ai.vl4j.nn;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.tensor.QuantizedTensor;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.tensor.VectorMath;
import ai.vl4j.tensor.WeightMatrix;
import java.lang.foreign.Arena;
import java.util.List;

/**
 * nn.Linear: y = x·Wᵀ + b, W [out, in] kept memory-mapped (or quantized off-heap) until it trains, b [out].
 */
public final class Linear implements Module {
    private final Parameter weight; // [out, in]
    private final Parameter bias;   // [out] or null
    private LoraAdapter adapter;    // or null

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

    /**
     * Equal linear layers that read the same input, stacked into one [out, in] (their outputs side by side in each
     * row, in the order given): {@code prefixes[i].weight} [out / k, in] and, when hasBias, {@code prefixes[i].bias},
     * for k prefixes. One prefix is simply {@link #load}; more are copied into one dense weight (HF's separate
     * q/k/v projections as timm's fused qkv), a parameter named by the prefixes joined with "+".
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
        String name = String.join("+", prefixes);
        return new Linear(Tensor.concatRows(name + ".weight", parts), bias == null ? null : Tensor.ofFloats(name + ".bias", bias, bias.length));
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

    /** The checkpoint's name of this layer (its weight's name without ".weight"), e.g. language_model.lm_head. */
    public String path() {
        String n = weight.name();
        return n.endsWith(".weight") ? n.substring(0, n.length() - ".weight".length()) : n;
    }

    /** Adds a LoRA adapter (replacing any); its output is added to the layer's from then on. */
    public void attach(LoraAdapter lora) {
        if (lora.a().matrix().cols() != in() || lora.b().matrix().rows() != out()) {
            throw new IllegalArgumentException("adapter " + lora.a().name() + " is for [" + lora.b().matrix().rows() + ", "
                    + lora.a().matrix().cols() + "], " + path() + " is [" + out() + ", " + in() + "]");
        }
        this.adapter = lora;
    }

    /** Removes the adapter, if any. */
    public void detach() {
        this.adapter = null;
    }

    /** The attached adapter, or null. */
    public LoraAdapter adapter() {
        return adapter;
    }

    /** The weight and bias, then the adapter's A and B when one is attached. */
    @Override
    public List<Parameter> parameters() {
        List<Parameter> out = new java.util.ArrayList<>(bias == null ? List.of(weight) : List.of(weight, bias));
        if (adapter != null) {
            out.addAll(adapter.parameters());
        }
        return out;
    }

    /** y [n, out] = x [n, in] · Wᵀ + b. */
    public void forward(float[] x, int n, float[] y) {
        forward(x, n, y, MatMul.Regime.AUTO);
    }

    /** As above, with the kernel the rows need (see {@link MatMul.Regime}). */
    public void forward(float[] x, int n, float[] y, MatMul.Regime regime) {
        MatMul.linear(x, n, weight.matrix(), bias == null ? null : bias.values(), y, regime);
        if (adapter != null) {
            adapter.addTo(x, n, y, regime);
        }
    }

    /**
     * Backward of {@link #forward} on x [n, in] given dy [n, out]: dx [n, in] = dy · W (written; null when not needed),
     * and, for each parameter that trains, dW += dyᵀ · x, db += Σ_rows dy.
     */
    public void backward(float[] x, int n, float[] dy, float[] dx) {
        if (dx != null) {
            MatMul.backwardInput(dy, n, weight.matrix(), dx);
        }
        accumulateGrads(x, n, dy);
        if (adapter != null) {
            adapter.backward(x, n, dy, dx);
        }
    }

    private void accumulateGrads(float[] x, int n, float[] dy) {
        if (weight.trainable()) {
            MatMul.backwardWeight(dy, x, n, out(), in(), weight.grad());
        }
        if (bias != null && bias.trainable()) {
            float[] db = bias.grad();
            int out = out();
            for (int i = 0; i < n; i++) {
                for (int r = 0; r < out; r++) {
                    db[r] += dy[i * out + r];
                }
            }
        }
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
            for (int i = 0; i < layers.length; i++) {
                if (layers[i].adapter != null) {
                    layers[i].adapter.addTo(x, n, outs[i], regime);
                }
            }
        }

        /**
         * Backward of {@link #forward} on x [n, in] given each output's gradient dys[i]: dx [n, in] = Σ_i dys[i] · W_i
         * (written; null when not needed), and the gradients of the weights that train. tmp [n, in] is scratch.
         */
        public void backward(float[] x, int n, float[][] dys, float[] dx, float[] tmp) {
            for (int i = 0; i < layers.length; i++) {
                if (dx != null) {
                    MatMul.backwardInput(dys[i], n, layers[i].weight.matrix(), i == 0 ? dx : tmp);
                    if (i > 0) {
                        VectorMath.addInPlace(dx, tmp, n * layers[i].in());
                    }
                }
                layers[i].accumulateGrads(x, n, dys[i]);
                if (layers[i].adapter != null) {
                    layers[i].adapter.backward(x, n, dys[i], dx);
                }
            }
        }
    }
}
