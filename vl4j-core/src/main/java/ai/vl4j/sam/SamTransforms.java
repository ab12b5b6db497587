package ai.vl4j.sam;

import ai.vl4j.image.PillowResize;
import ai.vl4j.image.RgbImage;
import ai.vl4j.tensor.Interpolate;

/**
 * SAM's pre- and postprocessing, spec SAM §2 and §5 (official {@code ResizeLongestSide}, {@code Sam.preprocess},
 * {@code Sam.postprocess_masks}):
 * <pre>
 *   scale = L / max(h, w);  h' = int(h·scale + 0.5),  w' = int(w·scale + 0.5)          (double, round half up)
 *   resized = Pillow bilinear (antialiased, also when enlarging) to w'×h'
 *   input = (resized − mean) / std per channel (float32), then zero-padded right and bottom to L×L
 *   coordinates: x·(w'/w), y·(h'/h) (double), neither clamped nor shifted
 *   masks: low-res [4E, 4E] → bilinear to L×L → crop [:h', :w'] → bilinear to h×w  (align_corners=False)
 * </pre>
 */
public final class SamTransforms {
    /** ImageNet's mean and std on the 0..255 scale ({@code Sam.pixel_mean / pixel_std}). */
    static final float[] PIXEL_MEAN = {123.675f, 116.28f, 103.53f};
    static final float[] PIXEL_STD = {58.395f, 57.12f, 57.375f};

    private SamTransforms() {
    }

    /** {@code get_preprocess_shape}: {h', w'} for the longest side L. */
    public static int[] preprocessShape(int height, int width, int longest) {
        double scale = longest * 1.0 / Math.max(height, width);
        return new int[] {(int) (height * scale + 0.5), (int) (width * scale + 0.5)};
    }

    /** The image resized so its longest side is L (Pillow bilinear). */
    public static RgbImage resize(RgbImage image, int longest) {
        int[] size = preprocessShape(image.height(), image.width(), longest);
        return PillowResize.bilinear(image, size[1], size[0]);
    }

    /** The model input [3, L, L]: the resized image normalised, then zero-padded (0 in normalised space). */
    public static float[] input(RgbImage resized, int longest) {
        int plane = longest * longest;
        float[] out = new float[3 * plane];
        byte[] rgb = resized.rgb();
        for (int y = 0; y < resized.height(); y++) {
            for (int x = 0; x < resized.width(); x++) {
                int src = (y * resized.width() + x) * 3;
                for (int c = 0; c < 3; c++) {
                    out[c * plane + y * longest + x] = ((rgb[src + c] & 0xff) - PIXEL_MEAN[c]) / PIXEL_STD[c];
                }
            }
        }
        return out;
    }

    /**
     * Mask logits at the original size, [k, h, w], of low-res logits [k, s, s]: upsampled to L×L (only the
     * h'×w' corner the crop keeps is computed), then resized to h×w (skipped when h'×w' is already h×w: bilinear
     * at scale 1 returns its input exactly).
     */
    public static float[] postprocess(float[] lowRes, int k, int s, int longest, int inputH, int inputW, int height, int width) {
        float[] out = new float[k * height * width];
        for (int m = 0; m < k; m++) {
            float[] one = new float[s * s];
            System.arraycopy(lowRes, m * s * s, one, 0, s * s);
            float[] mask = upscale(one, s, longest, inputH, inputW, height, width);
            System.arraycopy(mask, 0, out, m * height * width, height * width);
        }
        return out;
    }

    /** One low-res mask [s, s] to logits at the original size [h, w]. */
    static float[] upscale(float[] lowRes, int s, int longest, int inputH, int inputW, int height, int width) {
        float[] padded = Interpolate.bilinearHwc(lowRes, s, s, 1, longest, longest, inputH, inputW);
        if (inputH == height && inputW == width) {
            return padded;
        }
        return Interpolate.bilinearHwc(padded, inputH, inputW, 1, height, width);
    }
}
