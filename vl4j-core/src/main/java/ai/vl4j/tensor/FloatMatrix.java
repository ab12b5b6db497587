package ai.vl4j.tensor;

/**
 * A float32 weight matrix [rows, cols] on the heap, row-major: a parameter that training updates in place (the
 * stored weights are {@link Tensor}s, memory-mapped and read-only).
 */
public record FloatMatrix(String name, int rows, int cols, float[] data) implements WeightMatrix {

    public FloatMatrix {
        if (rows < 0 || cols < 0 || data.length != (long) rows * cols) {
            throw new IllegalArgumentException("matrix " + name + ": " + data.length + " floats for " + rows + " x " + cols);
        }
    }

    /** A float32 copy of any weight matrix (widened or dequantized). */
    public static FloatMatrix copyOf(WeightMatrix w) {
        float[] data = new float[w.rows() * w.cols()];
        for (int r = 0; r < w.rows(); r++) {
            w.rowToFloat(r, 0, w.cols(), data, r * w.cols());
        }
        return new FloatMatrix(w.name(), w.rows(), w.cols(), data);
    }

    @Override
    public long bytes() {
        return 4L * data.length;
    }

    @Override
    public void rowToFloat(int row, int k0, int len, float[] dst, int off) {
        System.arraycopy(data, row * cols + k0, dst, off, len);
    }
}
