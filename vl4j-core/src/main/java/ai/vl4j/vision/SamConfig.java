package ai.vl4j.vision;

import ai.vl4j.config.ConfigNode;
import ai.vl4j.sam.ImageEncoder;
import java.util.Map;

/**
 * Sizes of the SAM ViT image encoder, resolved like the official {@code create_sam_vit}: the preset of
 * {@code model_name}, then the size keys present in the params (the tiny fixture adds {@code width},
 * {@code layers}, {@code heads}, {@code global_attn_indexes}, {@code window_size}, {@code prompt_embed_dim},
 * {@code downsample_channels}). Which blocks attend globally is finally read from the checkpoint
 * (the length of each block's rel_pos_h table); the config's list is checked against it.
 *
 * @param imageSize           input side (1024)
 * @param patchSize           patch side (16), so a 64×64 grid
 * @param width               token width (768)
 * @param depth               blocks (12)
 * @param heads               attention heads (12)
 * @param globalBlocks        blocks with global attention ({2, 5, 8, 11})
 * @param windowSize          side of the attention windows of the other blocks (14)
 * @param neckChannels        neck width, {@code prompt_embed_dim} (256)
 * @param downsampleChannels  the two stride-2 convs' widths (512, 1024); the last is the output width
 * @param pixelMean           per-channel mean the tower subtracts (CLIP's), or null for none
 * @param pixelStd            per-channel std it divides by, or null for none
 */
public record SamConfig(int imageSize, int patchSize, int width, int depth, int heads, int[] globalBlocks,
                        int windowSize, int neckChannels, int[] downsampleChannels, float[] pixelMean, float[] pixelStd) {

    public static final float LAYER_NORM_EPS = 1e-6f;
    /** The neck output is resized to this side before the downsampling convs (hard-coded in sam.py). */
    public static final int UPSAMPLED_SIZE = 96;

    private record Preset(int width, int layers, int heads, int[] globalBlocks, int[] downsampleChannels) {
    }

    /** {@code SAM_MODEL_CONFIG} of the official sam.py, for the kinds with a downsampling head. */
    private static final Map<String, Preset> PRESETS = Map.of(
            "sam_b_downsample", new Preset(768, 12, 12, new int[] {2, 5, 8, 11}, new int[] {512, 1024}));

    public int gridSize() {
        return imageSize / patchSize;
    }

    public int headDim() {
        return width / heads;
    }

    public int mlpHidden() {
        return width * 4;
    }

    /** The image encoder's sizes (its blocks and neck; LayerNorm eps 1e-6, qkv bias, absolute and relative positions). */
    public ImageEncoder.Config encoder() {
        return new ImageEncoder.Config(imageSize, patchSize, width, depth, heads, mlpHidden(), globalBlocks, windowSize,
                neckChannels, LAYER_NORM_EPS, true, true, true);
    }

    public int outputWidth() {
        return downsampleChannels[downsampleChannels.length - 1];
    }

    /** Side of the output grid: 96 halved once per downsampling conv (24). */
    public int outputGrid() {
        return UPSAMPLED_SIZE >> downsampleChannels.length;
    }

    public static SamConfig fromJson(ConfigNode params) {
        String modelName = params.requireString("model_name");
        Preset preset = PRESETS.get(modelName);
        if (preset == null) {
            throw params.error("model_name", "is " + modelName + "; known SAM towers with a downsampling head: " + PRESETS.keySet());
        }
        int[] global = params.has("global_attn_indexes") ? params.optInts("global_attn_indexes") : preset.globalBlocks();
        double[] mean = params.optDoubles("pixel_mean", 3);
        double[] std = params.optDoubles("pixel_std", 3);
        int[] down = params.has("downsample_channels") ? params.optInts("downsample_channels") : preset.downsampleChannels();
        if (down.length == 0) {
            throw params.error("downsample_channels", "is empty; the hybrid tower needs the downsampling convs");
        }
        SamConfig cfg = new SamConfig(params.optInt("image_size", 1024), params.optInt("patch_size", 16),
                params.optInt("width", preset.width()), params.optInt("layers", preset.layers()),
                params.optInt("heads", preset.heads()), global, params.optInt("window_size", 14),
                params.optInt("prompt_embed_dim", 256), down, mean == null || std == null ? null : SigLipConfig.toFloats(mean),
                mean == null || std == null ? null : SigLipConfig.toFloats(std));
        if (cfg.imageSize() % cfg.patchSize() != 0 || cfg.width() % cfg.heads() != 0) {
            throw params.error("image_size", "(" + cfg.imageSize() + "), patch " + cfg.patchSize() + ", width " + cfg.width()
                    + " and heads " + cfg.heads() + " do not divide evenly");
        }
        return cfg;
    }
}
