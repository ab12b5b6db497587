package ai.vl4j.vision;

import ai.vl4j.config.ConfigNode;
import java.util.Map;

/**
 * Sizes of a SigLIP ViT tower, resolved the way the official {@code create_siglip_vit} does: the preset of
 * {@code model_name}, then any size key present in the params (the tiny fixtures add {@code width},
 * {@code layers}, {@code heads}, {@code mlp_ratio}), then {@code select_layer} trims the depth.
 *
 * @param imageSize  input side in pixels (384)
 * @param patchSize  patch side (16)
 * @param width      D, token width (1024)
 * @param depth      blocks actually built and run (24 for select_layer -1)
 * @param heads      attention heads (16)
 * @param mlpHidden  int(width · mlp_ratio) (4096)
 * @param pixelMean  per-channel mean the tower subtracts first, or null for none
 * @param pixelStd   per-channel std the tower divides by, or null for none
 */
public record SigLipConfig(int imageSize, int patchSize, int width, int depth, int heads, int mlpHidden,
                           float[] pixelMean, float[] pixelStd) {

    public static final float LAYER_NORM_EPS = 1e-6f;

    private record Preset(int patchSize, int width, int layers, int heads, double mlpRatio) {
    }

    /** {@code SigLIP_MODEL_CONFIG} of the official siglip_vit.py. */
    private static final Map<String, Preset> PRESETS = Map.of(
            "siglip_large_patch16_384", new Preset(16, 1024, 24, 16, 4.0),
            "siglip_so400m_patch14_384", new Preset(14, 1152, 27, 16, 3.7362),
            "siglip_so400m_patch14_224", new Preset(14, 1152, 27, 16, 3.7362));

    public int gridSize() {
        return imageSize / patchSize;
    }

    public int numTokens() {
        return gridSize() * gridSize();
    }

    public int headDim() {
        return width / heads;
    }

    public static SigLipConfig fromJson(ConfigNode params) {
        String modelName = params.requireString("model_name");
        Preset preset = PRESETS.get(modelName);
        if (preset == null) {
            throw params.error("model_name", "is " + modelName + "; known SigLIP towers: " + PRESETS.keySet());
        }
        int imageSize = params.optInt("image_size", 384);
        int patch = params.optInt("patch_size", preset.patchSize());
        int width = params.optInt("width", preset.width());
        int layers = params.optInt("layers", preset.layers());
        int heads = params.optInt("heads", preset.heads());
        double mlpRatio = params.optDouble("mlp_ratio", preset.mlpRatio());
        int selectLayer = params.optInt("select_layer", -1);
        int depth = selectLayer <= 0 ? Math.min(layers, layers + selectLayer + 1) : Math.min(layers, selectLayer);
        if (depth < 1) {
            throw params.error("select_layer", "(" + selectLayer + ") leaves no blocks of " + layers);
        }
        if (imageSize % patch != 0 || width % heads != 0) {
            throw params.error("image_size", "(" + imageSize + ") and patch " + patch + ", width " + width
                    + " and heads " + heads + " do not divide evenly");
        }
        double[] mean = params.optDoubles("pixel_mean", 3);
        double[] std = params.optDoubles("pixel_std", 3);
        boolean normalize = mean != null && std != null;
        return new SigLipConfig(imageSize, patch, width, depth, heads, (int) (width * mlpRatio),
                normalize ? toFloats(mean) : null, normalize ? toFloats(std) : null);
    }

    static float[] toFloats(double[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (float) values[i];
        }
        return out;
    }
}
