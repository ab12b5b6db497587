package ai.vl4j.image;

import ai.vl4j.config.ConfigNode;

/**
 * {@code preprocessor_config.json} ({@code VLMImageProcessor}); defaults are the official constructor's.
 *
 * @param imageSize     side of the square canvas (384 for 1.3B, 1024 for 7B)
 * @param minSize       smallest side after the aspect-preserving resize (14)
 * @param imageMean     per-channel mean; also decides the pad colour int(mean·255)
 * @param imageStd      per-channel std (used only when doNormalize)
 * @param rescaleFactor multiplier from 0..255 to [0, 1] (1/255)
 * @param doNormalize   false in the real configs: the towers normalise, not the processor
 */
public record ImageProcessorConfig(int imageSize, int minSize, double[] imageMean, double[] imageStd,
                                   double rescaleFactor, boolean doNormalize) {
    private static final double[] CLIP_MEAN = {0.48145466, 0.4578275, 0.40821073};
    private static final double[] CLIP_STD = {0.26862954, 0.26130258, 0.27577711};

    public static ImageProcessorConfig fromJson(ConfigNode c) {
        double[] mean = c.has("image_mean") ? c.requireDoubles("image_mean", 3) : CLIP_MEAN;
        double[] std = c.has("image_std") ? c.requireDoubles("image_std", 3) : CLIP_STD;
        ImageProcessorConfig cfg = new ImageProcessorConfig(c.requireInt("image_size"), c.optInt("min_size", 14),
                mean, std, c.optDouble("rescale_factor", 1.0 / 255.0), c.optBoolean("do_normalize", true));
        if (cfg.imageSize() < 1 || cfg.minSize() < 1) {
            throw c.error("image_size", "and min_size must be positive");
        }
        return cfg;
    }

    /**
     * The canvas colour of expand2square: {@code tuple(int(x * 255) for x in image_mean)}, truncated —
     * (127,127,127) for 1.3B, (122,116,104) for 7B. The file's own background_color key is not used by the
     * reference, and neither is it here.
     */
    public int[] backgroundColor() {
        int[] rgb = new int[3];
        for (int c = 0; c < 3; c++) {
            rgb[c] = (int) (imageMean[c] * 255);
        }
        return rgb;
    }
}
