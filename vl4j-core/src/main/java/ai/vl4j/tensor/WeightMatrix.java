package ai.vl4j.tensor;

/**
 * A weight matrix [rows = outputs, cols = inputs] that {@link MatMul} can multiply by: a dense {@link Tensor}
 * (F32/F16/BF16) or a {@link QuantizedTensor} (Q8_0/Q4_0).
 */
public interface WeightMatrix {
    String name();

    int rows();

    int cols();

    /** Bytes a pass over the whole matrix reads (decode streams this much per token). */
    long bytes();

    /** Widens W[row, k0 .. k0+len) to float32 into dst[off ..] (exactly for dense, dequantized otherwise). */
    void rowToFloat(int row, int k0, int len, float[] dst, int off);
}
