package ai.vl4j.llm;

/**
 * Rotary position embedding in the rotate-half (GPT-NeoX / HF LLaMA) layout, spec §3.5: for head dim d and
 * j < d/2, with θ_j = pos · θ^(-2j/d):
 * <pre>
 *   out[j]       = x[j]·cos θ_j − x[j + d/2]·sin θ_j
 *   out[j + d/2] = x[j + d/2]·cos θ_j + x[j]·sin θ_j
 * </pre>
 * The inverse frequencies and the angle are float32 products as in transformers 4.38, so positions far into
 * the context rotate by the same angles as the reference.
 */
final class Rope {
    private final int headDim;
    private final float[] invFreq; // [headDim / 2]

    Rope(int headDim, float theta) {
        this.headDim = headDim;
        this.invFreq = new float[headDim / 2];
        for (int j = 0; j < invFreq.length; j++) {
            float exponent = (float) (2 * j) / headDim;
            invFreq[j] = 1.0f / (float) Math.pow(theta, exponent);
        }
    }

    /** Rotates every head of row `row` of x (row stride = width, heads of headDim side by side) to position pos. */
    void apply(float[] x, int row, int width, int pos) {
        int half = headDim / 2;
        for (int j = 0; j < half; j++) {
            float angle = pos * invFreq[j];
            float cos = (float) Math.cos(angle);
            float sin = (float) Math.sin(angle);
            for (int h = row * width; h < (row + 1) * width; h += headDim) {
                float a = x[h + j];
                float b = x[h + j + half];
                x[h + j] = a * cos - b * sin;
                x[h + j + half] = b * cos + a * sin;
            }
        }
    }
}
