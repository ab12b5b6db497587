package ai.vl4j.image;

import ai.vl4j.InvalidInputException;

/**
 * {@code VLMImageProcessor}, spec §4: the aspect-preserving resize (Pillow bicubic), expand2square onto a
 * canvas of the pad colour, HWC→CHW and rescale to [0, 1]. The result is what the vision tower receives.
 */
public final class ImageProcessor {
    private final ImageProcessorConfig cfg;

    public ImageProcessor(ImageProcessorConfig cfg) {
        this.cfg = cfg;
    }

    public ImageProcessorConfig config() {
        return cfg;
    }

    /** Resized (height, width) before padding: the long side becomes imageSize, the short side is truncated. */
    public int[] targetSize(int width, int height) {
        int s = cfg.imageSize();
        int longSide = Math.max(width, height);
        int h = Math.max((int) ((double) height / longSide * s), cfg.minSize());
        int w = Math.max((int) ((double) width / longSide * s), cfg.minSize());
        return new int[] {h, w};
    }

    /** The padded square image as uint8 CHW [3, S, S] (before rescale). */
    public byte[] toCanvas(RgbImage image) {
        int[] size = targetSize(image.width(), image.height());
        RgbImage resized = PillowResize.bicubic(image, size[1], size[0]);
        return expandToSquare(resized);
    }

    /** Pixel values [3, S, S] as float32 in [0, 1] (normalised too if the config asks for it). */
    public float[] preprocess(RgbImage image) {
        byte[] chw = toCanvas(image);
        int plane = chw.length / 3;
        float[] out = new float[chw.length];
        for (int c = 0; c < 3; c++) {
            float mean = (float) cfg.imageMean()[c];
            float std = (float) cfg.imageStd()[c];
            for (int i = c * plane; i < (c + 1) * plane; i++) {
                float v = (float) ((chw[i] & 0xff) * cfg.rescaleFactor());
                out[i] = cfg.doNormalize() ? (v - mean) / std : v;
            }
        }
        return out;
    }

    /** Pastes the image centred on a square canvas of the pad colour; CHW bytes. */
    private byte[] expandToSquare(RgbImage img) {
        int side = Math.max(img.width(), img.height());
        if (side != cfg.imageSize()) {
            throw new InvalidInputException("image resized to " + img.width() + "x" + img.height()
                    + " does not fit the " + cfg.imageSize() + " canvas");
        }
        int x0 = img.width() < side ? (side - img.width()) / 2 : 0;
        int y0 = img.height() < side ? (side - img.height()) / 2 : 0;
        int plane = side * side;
        byte[] out = new byte[3 * plane];
        int[] bg = cfg.backgroundColor();
        for (int c = 0; c < 3; c++) {
            java.util.Arrays.fill(out, c * plane, (c + 1) * plane, (byte) bg[c]);
        }
        for (int y = 0; y < img.height(); y++) {
            for (int x = 0; x < img.width(); x++) {
                for (int c = 0; c < 3; c++) {
                    out[c * plane + (y0 + y) * side + x0 + x] = (byte) img.get(x, y, c);
                }
            }
        }
        return out;
    }
}
