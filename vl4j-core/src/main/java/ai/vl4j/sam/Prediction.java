package ai.vl4j.sam;

/**
 * The masks of one prompt, in the decoder's output order (multimask: outputs 1..3; single: output 0).
 *
 * @param count         masks K
 * @param height        original image height h
 * @param width         original image width w
 * @param masksLogits   [K, h, w] logits at the original size; a pixel is in the mask when its logit is &gt; 0
 * @param iouPredictions [K] the decoder's predicted IoU per mask
 * @param lowResLogits  [K, s, s] the low-resolution logits, a mask input for a later prompt
 * @param lowResSize    s (256 in SAM-B)
 */
public record Prediction(int count, int height, int width, float[] masksLogits, float[] iouPredictions, float[] lowResLogits,
                         int lowResSize) {
    /** Threshold of the official predictor ({@code mask_threshold}). */
    public static final float MASK_THRESHOLD = 0f;

    /** Mask k, row-major [h·w]: logit &gt; 0. */
    public boolean[] mask(int k) {
        boolean[] out = new boolean[height * width];
        int off = k * height * width;
        for (int i = 0; i < out.length; i++) {
            out[i] = masksLogits[off + i] > MASK_THRESHOLD;
        }
        return out;
    }

    /** The low-res logits of mask k, [s·s]. */
    public float[] lowRes(int k) {
        float[] out = new float[lowResSize * lowResSize];
        System.arraycopy(lowResLogits, k * out.length, out, 0, out.length);
        return out;
    }
}
