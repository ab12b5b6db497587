package ai.vl4j.vision;

import ai.vl4j.ModelFormatException;
import ai.vl4j.nn.Conv2d;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.sam.ImageEncoder;
import ai.vl4j.sam.Neck;
import ai.vl4j.tensor.Interpolate;

/**
 * DeepSeek-VL's SAM-B tower ({@code sam_b_downsample}), spec §3.2: SAM's image encoder
 * ({@link ImageEncoder}, official tensor names) and DeepSeek's downsampling head beside it:
 * <pre>
 *   Y [3, 1024, 1024] --normalise (CLIP mean/std)--> ImageEncoder trunk --> x [64, 64, C]
 *                                                    g = x after the first global block
 *   main = down(up96(neck(x))),  hd = down(up96(neck_hd(g)))
 *   neck = the encoder's neck; neck_hd a second one;  up96 = bilinear 64→96;  down = conv3×3/2 → conv3×3/2 (shared)
 *   F_high = main + α·hd   [24·24, 1024]        α = hd_alpha_downsamples from the checkpoint
 * </pre>
 * Activations are channels-last ([h, w, c] row-major), so token (y, x) is row y·w + x everywhere.
 */
public final class SamEncoder {
    private final SamConfig cfg;
    private final ImageEncoder encoder;
    private final int firstGlobal;       // index of the block whose output feeds the hd branch
    private final Neck neckHd;
    private final Conv2d[] downsamples;  // shared by both branches
    private final float hdAlpha;

    public SamEncoder(SamConfig cfg, Weights w, String prefix) {
        this.cfg = cfg;
        this.encoder = new ImageEncoder(cfg.encoder(), w, prefix, ImageEncoder.Names.OFFICIAL);
        this.firstGlobal = encoder.firstGlobalBlock();
        if (firstGlobal < 0) {
            throw new ModelFormatException(w.folder() + ": SAM tower has no global-attention block (no rel_pos_h table of "
                    + (2 * cfg.gridSize() - 1) + " rows); the hd branch needs one");
        }
        this.neckHd = new Neck(w, prefix + "neck_hd.", ImageEncoder.Names.OFFICIAL, cfg.width(), cfg.neckChannels(),
                SamConfig.LAYER_NORM_EPS);
        int[] channels = cfg.downsampleChannels();
        this.downsamples = new Conv2d[channels.length];
        int in = cfg.neckChannels();
        for (int i = 0; i < channels.length; i++) {
            downsamples[i] = Conv2d.load(w, prefix + "downsamples." + i + ".weight", in, channels[i], 3, 2, 1);
            in = channels[i];
        }
        this.hdAlpha = w.requireFloats(prefix + "hd_alpha_downsamples", 1)[0];
    }

    public SamConfig config() {
        return cfg;
    }

    /** Features [24·24, 1024] of processor pixels [3, 1024, 1024] in [0, 1]. */
    public float[] forward(float[] pixels) {
        return forward(pixels, Taps.NONE);
    }

    /**
     * As {@link #forward(float[])}; taps receives "embed" and "block" + i ([64, 64, C]), and "main" and "hd"
     * (before α) as [24·24, C_out].
     */
    public float[] forward(float[] pixels, Taps taps) {
        float[][] firstGlobalOutput = new float[1][];
        String keep = "block" + firstGlobal;
        float[] x = encoder.trunk(Pixels.normalize(pixels, cfg.imageSize(), cfg.pixelMean(), cfg.pixelStd()), (name, values) -> {
            taps.tap(name, values);
            if (name.equals(keep)) {
                firstGlobalOutput[0] = values.clone();
            }
        });
        float[] main = head(encoder.neck(), x);
        float[] hd = head(neckHd, firstGlobalOutput[0]);
        taps.tap("main", main);
        taps.tap("hd", hd);
        for (int i = 0; i < main.length; i++) {
            main[i] += hd[i] * hdAlpha;
        }
        return main;
    }

    /** down(up96(neck(x))): [64·64, C] -> [24·24, C_out]. */
    private float[] head(Neck neck, float[] x) {
        int grid = cfg.gridSize();
        float[] y = neck.forward(x, grid);
        int size = SamConfig.UPSAMPLED_SIZE;
        y = Interpolate.bilinearHwc(y, grid, grid, cfg.neckChannels(), size, size);
        for (Conv2d down : downsamples) {
            y = down.forward(y, size, size);
            size = down.outSize(size);
        }
        return y;
    }
}
