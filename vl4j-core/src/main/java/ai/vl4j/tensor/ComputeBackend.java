package ai.vl4j.tensor;

/**
 * The matrix products that dominate time, behind one interface: the forward product of a linear layer and the
 * two products its backward pass needs. {@link MatMul#linear} sends every product of many rows (prefill, the
 * vision towers, convolutions) to {@link Backends#active()}; models never know which backend runs. Training
 * calls the three products here directly.
 *
 * <p>Weights are a {@link WeightMatrix} W [m, k] (m outputs, k inputs): stored (memory-mapped F32/F16/BF16, or
 * quantized), or float32 on the heap ({@link FloatMatrix}, a trained parameter). Activations and gradients are
 * float32 row-major arrays; every sum is accumulated in float32.
 *
 * <p>Implementations: {@link JavaBackend} (the Vector API kernels; every result one FMA chain in index order)
 * and {@link DnnlBackend} (oneDNN through FFM, its own summation order: equal within float32 rounding).
 */
public interface ComputeBackend {

    /** "java" or "dnnl". */
    String name();

    /** One line for --verbose: the implementation and what it runs on (kernel tile, library version, ISA). */
    String describe();

    /** out[n, m] = x[n, k] · Wᵀ + bias (bias [m] or null); out must not alias x. */
    void linear(float[] x, int n, WeightMatrix w, float[] bias, float[] out);

    /** Backward of linear with respect to its input: dx[n, k] = dy[n, m] · W. */
    void backwardInput(float[] dy, int n, WeightMatrix w, float[] dx);

    /** Backward of linear with respect to its weight: dw[m, k] += dyᵀ · x, with dy [n, m] and x [n, k]. */
    void backwardWeight(float[] dy, float[] x, int n, int m, int k, float[] dw);
}
