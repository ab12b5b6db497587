package ai.vl4j.sam;

/**
 * SAM's random Fourier positional encoding ({@code PositionEmbeddingRandom}), spec SAM §3: for a point (x, y)
 * in [0, 1]², with G the stored gaussian matrix [2, C/2],
 * <pre>
 *   u = 2·(x, y) − 1;   a = 2π·(u·G)   [C/2];   pe = (sin a, cos a)   [C]      (float32 throughout)
 * </pre>
 * The prompt encoder and the dense image PE share it (HF: {@code shared_image_embedding}).
 */
final class PositionalEncoding {
    private static final float TWO_PI = (float) (2 * Math.PI);

    private final float[] gaussian;   // [2, C/2]
    private final int half;           // C/2

    PositionalEncoding(float[] gaussian) {
        this.gaussian = gaussian;
        this.half = gaussian.length / 2;
    }

    int width() {
        return 2 * half;
    }

    /** out[off .. off + C) = pe(x, y). */
    void encode(float x, float y, float[] out, int off) {
        float ux = 2 * x - 1;
        float uy = 2 * y - 1;
        for (int j = 0; j < half; j++) {
            float a = TWO_PI * (ux * gaussian[j] + uy * gaussian[half + j]);
            out[off + j] = (float) Math.sin(a);
            out[off + half + j] = (float) Math.cos(a);
        }
    }

    /**
     * The image PE ({@code get_dense_pe}) of an E×E grid: pe of the cell centres ((j + 0.5)/E, (i + 0.5)/E),
     * as [E·E, C] (row i·E + j).
     */
    float[] dense(int side) {
        float[] out = new float[side * side * width()];
        for (int i = 0; i < side; i++) {
            float y = (i + 1 - 0.5f) / side;            // cumsum of ones − 0.5, then / E, in float32
            for (int j = 0; j < side; j++) {
                float x = (j + 1 - 0.5f) / side;
                encode(x, y, out, (i * side + j) * width());
            }
        }
        return out;
    }
}
