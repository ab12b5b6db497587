package ai.vl4j.nn;

import ai.vl4j.tensor.PackedWeight;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.tensor.WeightMatrix;
import java.util.Arrays;

/**
 * One tensor of a model under its checkpoint name (e.g. {@code language_model.model.layers.3.self_attn.q_proj.weight}):
 * what the forward pass reads and, while it trains, its float32 values and gradient. Layers read their parameters
 * through this object at every call, so a parameter that starts training is multiplied from then on in its
 * float32 form, with no second copy of the model.
 *
 * <p>Two kinds: a <em>matrix</em> (linear and convolution weights, embeddings) is read by the kernels as a
 * {@link WeightMatrix} and stays as stored (memory-mapped in the checkpoint's dtype, or quantized) until it trains;
 * a <em>vector</em> (biases, norm weights, position embeddings) is always a float32 array.
 */
public final class Parameter {
    private final String name;
    private final long[] shape;        // as in the checkpoint
    private final Tensor stored;       // the checkpoint's tensor, or null for one made here (a LoRA matrix)
    private final int rows, cols;      // the matrix view: [out, in] (a convolution's [out, in·k·k]); vectors: 1 × size
    private final boolean matrixKind;
    private WeightMatrix matrix;       // what the kernels read: stored, quantized, or a float32 view of values
    private float[] values;            // float32 values: vectors always, matrices once they train
    private float[] grad;              // dL/dvalues while trainable
    private boolean trainable;

    private Parameter(String name, long[] shape, Tensor stored, int rows, int cols, boolean matrixKind, WeightMatrix matrix, float[] values) {
        this.name = name;
        this.shape = shape.clone();
        this.stored = stored;
        this.rows = rows;
        this.cols = cols;
        this.matrixKind = matrixKind;
        this.matrix = matrix;
        this.values = values;
    }

    /**
     * A matrix as stored: tensor (any rank) seen as [rows, cols], read through kernels as `reading` (the stored
     * tensor reshaped, or quantized from it).
     */
    public static Parameter matrix(Tensor stored, WeightMatrix reading) {
        return new Parameter(stored.name(), stored.shape(), stored, reading.rows(), reading.cols(), true, reading, null);
    }

    /** A matrix a quantized checkpoint holds only in quantized form (it can be read, not trained). */
    public static Parameter quantized(WeightMatrix reading) {
        return new Parameter(reading.name(), new long[] {reading.rows(), reading.cols()}, null, reading.rows(), reading.cols(), true, reading, null);
    }

    /** A vector of float32 values copied from the checkpoint. */
    public static Parameter vector(Tensor stored) {
        float[] v = stored.toFloatArray();
        return new Parameter(stored.name(), stored.shape(), stored, 1, v.length, false, null, v);
    }

    /** A matrix that exists only here (LoRA's A and B): float32 values [rows, cols], trainable from the start. */
    public static Parameter created(String name, float[] values, int rows, int cols) {
        if (values.length != (long) rows * cols) {
            throw new IllegalArgumentException(name + ": " + values.length + " values for [" + rows + ", " + cols + "]");
        }
        Parameter p = new Parameter(name, new long[] {rows, cols}, null, rows, cols, true, Tensor.view(name, values, rows, cols), values);
        p.train();
        return p;
    }

    public String name() {
        return name;
    }

    /** The checkpoint's shape (its number of dimensions decides weight decay). */
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long numel() {
        return (long) rows * cols;
    }

    /** The checkpoint's tensor (memory-mapped, in its dtype), or null for a parameter made here or stored quantized. */
    public Tensor stored() {
        return stored;
    }

    /** What the kernels multiply by ({@link #isMatrix()} only). */
    public WeightMatrix matrix() {
        if (!matrixKind) {
            throw new IllegalStateException(name + " is a vector");
        }
        return matrix;
    }

    public boolean isMatrix() {
        return matrixKind;
    }

    /** The float32 values: a vector's always, a matrix's once it trains (null before). */
    public float[] values() {
        return values;
    }

    /** dL/dvalues, accumulated by backward passes while the parameter trains; null when frozen. */
    public float[] grad() {
        return grad;
    }

    public boolean trainable() {
        return trainable;
    }

    /**
     * Re-lays a stored BF16 matrix into the column panels of the decode and prefill kernels ({@link PackedWeight}),
     * read through them from now on (until it trains or {@link #unpack}). Returns the bytes the panels take (0 when
     * this parameter is of another kind, trains, or is packed already).
     */
    public long pack() {
        if (trainable || !(matrix instanceof Tensor t) || t != stored || !PackedWeight.packable(t)) {
            return 0;
        }
        PackedWeight p = PackedWeight.pack(t);
        matrix = p;
        return p.bytes();
    }

    /** Frees the panels of {@link #pack} (the matrix is read as stored again). No-op when not packed. */
    public void unpack() {
        if (matrix instanceof PackedWeight p) {
            matrix = p.source();
            p.close();
        }
    }

    /**
     * Starts training: a matrix gets float32 values widened exactly from its checkpoint tensor (not from a quantized
     * form) and is read through them from now on (packed panels are freed); a gradient buffer is allocated. No-op
     * when already trainable.
     */
    public void train() {
        if (trainable) {
            return;
        }
        unpack();
        if (values == null) {
            if (stored == null) {
                throw new IllegalStateException(name + " is stored quantized (" + matrix.getClass().getSimpleName()
                        + "); training starts from the checkpoint's BF16, F16 or F32 weights");
            }
            values = stored.toFloatArray();
            matrix = Tensor.view(name, values, rows, cols);
        }
        grad = new float[values.length];
        trainable = true;
    }

    /** Stops training: the gradient buffer is dropped (the values stay as trained). */
    public void freeze() {
        trainable = false;
        grad = null;
    }

    /** Zeroes the gradient (before a new optimizer step's backward passes). */
    public void zeroGrad() {
        if (grad != null) {
            Arrays.fill(grad, 0f);
        }
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape) + (trainable ? " (trains)" : "");
    }
}
