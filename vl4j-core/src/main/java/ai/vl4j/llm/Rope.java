package ai.vl4j.llm;

import ai.vl4j.tensor.VectorMath;

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

    int half() {
        return headDim / 2;
    }

    /**
     * cos θ_j and sin θ_j of position pos (j &lt; headDim/2) into cos and sin at off. A forward pass takes them
     * once per position; every layer's queries and keys then rotate by the same table (computing them per layer
     * and per q/k took 48 × 64 cos and sin per position: ≈ 0.5 ms of a decode step).
     */
    void angles(int pos, float[] cos, float[] sin, int off) {
        for (int j = 0; j < invFreq.length; j++) {
            float angle = pos * invFreq[j];
            cos[off + j] = (float) Math.cos(angle);
            sin[off + j] = (float) Math.sin(angle);
        }
    }

    /** Rotates every head of row `row` of x (row stride = width, heads of headDim side by side) by the angles at off. */
    void apply(float[] x, int row, int width, float[] cos, float[] sin, int off) {
        for (int h = row * width; h < (row + 1) * width; h += headDim) {
            VectorMath.rotateHalf(x, h, headDim / 2, cos, sin, off);
        }
    }
}
