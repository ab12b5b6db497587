package ai.vl4j.image;

import ai.vl4j.ModelFormatException;
import ai.vl4j.config.ConfigNode;
import java.nio.file.Path;

/**
 * Hugging Face's {@code CLIPImageProcessor} and {@code SiglipImageProcessor} (spec §7, §8), on an image already
 * decoded with Pillow's {@code convert("RGB")} semantics:
 * <pre>
 *   resize (Pillow bicubic, uint8)  either to (height, width) exactly (SigLIP's squash)
 *                                   or the shortest side to s, the long side int(s·long/short) (truncated; CLIP)
 *   centre crop (CLIP)              top (H − ch)//2, left (W − cw)//2; zero-padded where the crop is larger
 *   rescale                         float32(float64(x) · rescale_factor)
 *   normalise                       (x − mean_c) / std_c in float32                       → CHW [3, h, w]
 * </pre>
 * Every step follows {@code preprocessor_config.json}; {@link Config#clip} and {@link Config#siglip} read it with
 * each processor's own defaults and spellings.
 */
public final class ClipImageProcessor {
    /** Pillow's BICUBIC: the only {@code resample} implemented (every CLIP and SigLIP checkpoint uses it). */
    public static final int BICUBIC = 3;

    /**
     * What to do, as the processor's fields say.
     *
     * @param shortestEdge  resize the short side to this (CLIP), or 0 to resize to resizeHeight × resizeWidth
     * @param cropHeight    centre crop size, or 0 for no crop
     */
    public record Config(boolean doResize, int shortestEdge, int resizeHeight, int resizeWidth,
                         int cropHeight, int cropWidth, boolean doRescale, double rescaleFactor,
                         boolean doNormalize, double[] mean, double[] std) {

        private static final double[] OPENAI_MEAN = {0.48145466, 0.4578275, 0.40821073};
        private static final double[] OPENAI_STD = {0.26862954, 0.26130258, 0.27577711};
        private static final double[] HALF = {0.5, 0.5, 0.5};

        /**
         * {@code CLIPImageProcessor}: {@code size} is a number (the legacy {@code CLIPFeatureExtractor} spelling, =
         * shortest edge), {@code {"shortest_edge": s}} or {@code {"height", "width"}}; {@code crop_size} a number or
         * {@code {"height", "width"}}. Defaults: 224, OpenAI mean/std, bicubic, 1/255.
         */
        public static Config clip(ConfigNode c) {
            checkResample(c);
            int shortest = 224;
            int[] exact = null;
            if (c.isObject("size")) {
                ConfigNode size = c.child("size");
                if (size.has("shortest_edge")) {
                    shortest = positive(size, "shortest_edge");
                } else {
                    exact = heightWidth(c, "size");
                    shortest = 0;
                }
            } else if (c.has("size")) {
                shortest = positive(c, "size");
            }
            int[] crop = c.isObject("crop_size") ? heightWidth(c, "crop_size")
                    : c.has("crop_size") ? new int[] {positive(c, "crop_size"), positive(c, "crop_size")} : new int[] {224, 224};
            boolean doCrop = c.optBoolean("do_center_crop", true);
            return new Config(c.optBoolean("do_resize", true), shortest, exact == null ? 0 : exact[0], exact == null ? 0 : exact[1],
                    doCrop ? crop[0] : 0, doCrop ? crop[1] : 0, c.optBoolean("do_rescale", true), c.optDouble("rescale_factor", 1.0 / 255),
                    c.optBoolean("do_normalize", true), meanStd(c, "image_mean", OPENAI_MEAN), meanStd(c, "image_std", OPENAI_STD));
        }

        /** {@code SiglipImageProcessor}: resize to {@code size} {@code {"height", "width"}} (or a number: square), no crop; defaults 224, mean/std 0.5. */
        public static Config siglip(ConfigNode c) {
            checkResample(c);
            int[] size = c.isObject("size") ? heightWidth(c, "size")
                    : c.has("size") ? new int[] {positive(c, "size"), positive(c, "size")} : new int[] {224, 224};
            return new Config(c.optBoolean("do_resize", true), 0, size[0], size[1], 0, 0, c.optBoolean("do_rescale", true),
                    c.optDouble("rescale_factor", 1.0 / 255), c.optBoolean("do_normalize", true),
                    meanStd(c, "image_mean", HALF), meanStd(c, "image_std", HALF));
        }

        private static void checkResample(ConfigNode c) {
            int resample = c.optInt("resample", BICUBIC);
            if (resample != BICUBIC) {
                throw c.error("resample", "is " + resample + "; only 3 (bicubic) is implemented");
            }
        }

        private static int[] heightWidth(ConfigNode c, String key) {
            ConfigNode size = c.child(key);
            if (!size.has("height") || !size.has("width")) {
                throw c.error(key, "must be a number or have height and width (or shortest_edge for size)");
            }
            return new int[] {positive(size, "height"), positive(size, "width")};
        }

        private static int positive(ConfigNode c, String key) {
            int v = c.requireInt(key);
            if (v < 1) {
                throw c.error(key, "must be positive, got " + v);
            }
            return v;
        }

        private static double[] meanStd(ConfigNode c, String key, double[] fallback) {
            return c.has(key) ? c.requireDoubles(key, 3) : fallback;
        }
    }

    private final Config cfg;

    public ClipImageProcessor(Config cfg) {
        this.cfg = cfg;
    }

    public Config config() {
        return cfg;
    }

    /** (height, width) of the resize; the image's own size without do_resize. */
    public int[] resizedSize(int width, int height) {
        if (!cfg.doResize()) {
            return new int[] {height, width};
        }
        if (cfg.shortestEdge() == 0) {
            return new int[] {cfg.resizeHeight(), cfg.resizeWidth()};
        }
        int s = cfg.shortestEdge();
        int shortSide = Math.min(width, height);
        int longSide = Math.max(width, height);
        int newLong = (int) ((double) ((long) s * longSide) / shortSide);   // Python: int(s * long / short)
        return width <= height ? new int[] {newLong, s} : new int[] {s, newLong};
    }

    /** (height, width) of what {@link #preprocess} returns for an image of this size. */
    public int[] outputSize(int width, int height) {
        return cfg.cropHeight() > 0 ? new int[] {cfg.cropHeight(), cfg.cropWidth()} : resizedSize(width, height);
    }

    /**
     * Checks that every image comes out side × side, the vision tower's input (a crop of that size, or an exact
     * resize to it); an error naming the file otherwise.
     */
    public void requireSquare(int side, Path file) {
        int[] out = cfg.cropHeight() > 0 ? new int[] {cfg.cropHeight(), cfg.cropWidth()}
                : cfg.doResize() && cfg.shortestEdge() == 0 ? new int[] {cfg.resizeHeight(), cfg.resizeWidth()} : null;
        if (out == null || out[0] != side || out[1] != side) {
            throw new ModelFormatException(file + ": images come out " + (out == null ? "of varying sizes" : out[0] + "x" + out[1])
                    + ", the vision tower takes " + side + "x" + side + " (image_size)");
        }
    }

    /** The uint8 image after resize and centre crop (the fixtures' {@code resized_u8}). */
    public RgbImage resizeAndCrop(RgbImage image) {
        int[] size = resizedSize(image.width(), image.height());
        RgbImage resized = size[0] == image.height() && size[1] == image.width() ? image
                : PillowResize.bicubic(image, size[1], size[0]);
        return cfg.cropHeight() > 0 ? centerCrop(resized, cfg.cropHeight(), cfg.cropWidth()) : resized;
    }

    /** pixel_values [3, h, w]: rescaled and normalised as the config says. */
    public float[] preprocess(RgbImage image) {
        RgbImage img = resizeAndCrop(image);
        int plane = img.width() * img.height();
        float[] out = new float[3 * plane];
        byte[] rgb = img.rgb();
        for (int c = 0; c < 3; c++) {
            float mean = (float) cfg.mean()[c];
            float std = (float) cfg.std()[c];
            for (int i = 0; i < plane; i++) {
                int u8 = rgb[i * 3 + c] & 0xff;
                float v = cfg.doRescale() ? (float) (u8 * cfg.rescaleFactor()) : u8;
                out[c * plane + i] = cfg.doNormalize() ? (v - mean) / std : v;
            }
        }
        return out;
    }

    /**
     * transformers' {@code center_crop}: the window at top (H − ch)//2, left (W − cw)//2; where the crop is larger
     * than the image, the image is first centred on zeros (padding ceil((ch − H)/2) on top, likewise on the left).
     */
    static RgbImage centerCrop(RgbImage img, int ch, int cw) {
        int h = img.height();
        int w = img.width();
        int top = Math.floorDiv(h - ch, 2);
        int left = Math.floorDiv(w - cw, 2);
        int padTop = 0;
        int padLeft = 0;
        if (top < 0 || left < 0 || top + ch > h || left + cw > w) {
            padTop = Math.max(0, (ch - h + 1) / 2);
            padLeft = Math.max(0, (cw - w + 1) / 2);
            top = Math.max(0, top + padTop);
            left = Math.max(0, left + padLeft);
        }
        // output pixel (x, y) is padded-image pixel (left + x, top + y), i.e. image pixel (left + x − padLeft, top + y − padTop)
        byte[] out = new byte[ch * cw * 3];
        for (int y = 0; y < ch; y++) {
            int sy = top + y - padTop;
            if (sy < 0 || sy >= h) {
                continue;
            }
            for (int x = 0; x < cw; x++) {
                int sx = left + x - padLeft;
                if (sx >= 0 && sx < w) {
                    System.arraycopy(img.rgb(), (sy * w + sx) * 3, out, (y * cw + x) * 3, 3);
                }
            }
        }
        return new RgbImage(cw, ch, out);
    }
}
