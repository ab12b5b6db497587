package ai.vl4j.vision;

import ai.vl4j.ModelFormatException;
import ai.vl4j.nn.Conv2d;
import ai.vl4j.nn.LayerNorm;
import ai.vl4j.nn.Linear;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Activations;
import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.Interpolate;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.tensor.VectorMath;
import java.util.Arrays;

/**
 * SAM-B image encoder with DeepSeek-VL's downsampling head ({@code sam_b_downsample}), spec §3.2:
 * <pre>
 *   Y [3, 1024, 1024] --normalise (CLIP mean/std)--> conv 16×16/16 (+bias) --> x [64, 64, C] (+ pos_embed)
 *   12 × Block:   x = x + proj(Attn(LN1(x)))      14×14 windows (zero-padded to 70×70 after LN1, pads unmasked),
 *                                                 or global over all 64×64 tokens in the blocks whose rel_pos
 *                                                 tables span the whole grid; scores get the decomposed relative
 *                                                 position terms of the unscaled query
 *                 x = x + lin2(GELU(lin1(LN2(x))))                                         g = x after the first global block
 *   main = down(up96(neck(x))),  hd = down(up96(neck_hd(g)))
 *   neck = LN2d(conv3×3(LN2d(conv1×1(·))));  up96 = bilinear 64→96;  down = conv3×3/2 → conv3×3/2 (shared)
 *   F_high = main + α·hd   [24·24, 1024]        α = hd_alpha_downsamples from the checkpoint
 * </pre>
 * Activations are channels-last ([h, w, c] row-major), so token (y, x) is row y·w + x everywhere.
 */
public final class SamEncoder {
    private final SamConfig cfg;
    private final Linear patchEmbed;     // conv [C, 3, P, P] as [C, 3·P·P]
    private final float[] posEmbed;      // [64·64, C]
    private final Block[] blocks;
    private final int firstGlobal;       // index of the block whose output feeds the hd branch
    private final Neck neck;
    private final Neck neckHd;
    private final Conv2d[] downsamples;  // shared by both branches
    private final float hdAlpha;

    public SamEncoder(SamConfig cfg, Weights w, String prefix) {
        this.cfg = cfg;
        int c = cfg.width();
        int p = cfg.patchSize();
        int grid = cfg.gridSize();
        this.patchEmbed = new Linear(w.require(prefix + "patch_embed.proj.weight", c, 3, p, p), w.require(prefix + "patch_embed.proj.bias", c));
        this.posEmbed = w.requireFloats(prefix + "pos_embed", 1, grid, grid, c);
        this.blocks = new Block[cfg.depth()];
        int first = -1;
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = new Block(cfg, w, prefix + "blocks." + i + ".", i);
            if (blocks[i].global && first < 0) {
                first = i;
            }
        }
        if (first < 0) {
            throw new ModelFormatException(w.folder() + ": SAM tower has no global-attention block (no rel_pos_h table of "
                    + (2 * grid - 1) + " rows); the hd branch needs one");
        }
        this.firstGlobal = first;
        this.neck = new Neck(cfg, w, prefix + "neck.");
        this.neckHd = new Neck(cfg, w, prefix + "neck_hd.");
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
        int grid = cfg.gridSize();
        int c = cfg.width();
        int n = grid * grid;
        float[] patches = Pixels.patches(Pixels.normalize(pixels, cfg.imageSize(), cfg.pixelMean(), cfg.pixelStd()),
                cfg.imageSize(), cfg.patchSize());
        float[] x = new float[n * c];                          // [64, 64, C]
        patchEmbed.forward(patches, n, x);
        VectorMath.addInPlace(x, posEmbed, n * c);
        taps.tap("embed", x);
        float[] firstGlobalOutput = null;
        for (int i = 0; i < blocks.length; i++) {
            blocks[i].forward(x);
            taps.tap("block" + i, x);
            if (i == firstGlobal) {
                firstGlobalOutput = x.clone();
            }
        }
        float[] main = head(neck, x);
        float[] hd = head(neckHd, firstGlobalOutput);
        taps.tap("main", main);
        taps.tap("hd", hd);
        for (int i = 0; i < main.length; i++) {
            main[i] += hd[i] * hdAlpha;
        }
        return main;
    }

    /** down(up96(neck(x))): [64·64, C] -> [24·24, C_out]. */
    private float[] head(Neck neckWeights, float[] x) {
        int grid = cfg.gridSize();
        float[] y = neckWeights.forward(x, grid);
        int size = SamConfig.UPSAMPLED_SIZE;
        y = Interpolate.bilinearHwc(y, grid, grid, cfg.neckChannels(), size, size);
        for (Conv2d down : downsamples) {
            y = down.forward(y, size, size);
            size = down.outSize(size);
        }
        return y;
    }

    /** conv1×1 → LayerNorm2d → conv3×3 (pad 1) → LayerNorm2d, no biases on the convs. */
    private static final class Neck {
        private final Conv2d conv1;
        private final LayerNorm norm1;
        private final Conv2d conv2;
        private final LayerNorm norm2;

        Neck(SamConfig cfg, Weights w, String prefix) {
            int out = cfg.neckChannels();
            conv1 = Conv2d.load(w, prefix + "0.weight", cfg.width(), out, 1, 1, 0);
            norm1 = LayerNorm.load(w, prefix + "1", out, SamConfig.LAYER_NORM_EPS);
            conv2 = Conv2d.load(w, prefix + "2.weight", out, out, 3, 1, 1);
            norm2 = LayerNorm.load(w, prefix + "3", out, SamConfig.LAYER_NORM_EPS);
        }

        /** LayerNorm2d normalises each position over its channels: a LayerNorm of each channels-last row. */
        float[] forward(float[] x, int grid) {
            int n = grid * grid;
            float[] y = conv1.forward(x, grid, grid);
            norm1.forward(y, y, n);
            y = conv2.forward(y, grid, grid);
            norm2.forward(y, y, n);
            return y;
        }
    }

    /** Pre-LN ViT block with windowed or global attention and decomposed relative positions. */
    private static final class Block {
        private final SamConfig cfg;
        private final LayerNorm norm1, norm2;
        private final Linear qkv;        // [3C, C]: output columns Q | K | V, heads side by side
        private final Linear proj;       // [C, C]
        private final Linear lin1;       // [4C, C]
        private final Linear lin2;       // [C, 4C]
        private final float[] relPosH;   // [2·side − 1, headDim]
        private final float[] relPosW;   // [2·side − 1, headDim]
        private final boolean global;
        private final int side;          // attention grid side: 64 (global) or the window (14)

        Block(SamConfig cfg, Weights w, String prefix, int index) {
            int c = cfg.width();
            int hd = cfg.headDim();
            this.cfg = cfg;
            norm1 = LayerNorm.load(w, prefix + "norm1", c, SamConfig.LAYER_NORM_EPS);
            qkv = Linear.load(w, prefix + "attn.qkv", c, 3 * c, true);
            proj = Linear.load(w, prefix + "attn.proj", c, c, true);
            norm2 = LayerNorm.load(w, prefix + "norm2", c, SamConfig.LAYER_NORM_EPS);
            lin1 = Linear.load(w, prefix + "mlp.lin1", c, cfg.mlpHidden(), true);
            lin2 = Linear.load(w, prefix + "mlp.lin2", cfg.mlpHidden(), c, true);
            // The checkpoint says which blocks are global: their tables span the whole grid (2·64 − 1 rows).
            Tensor table = w.get(prefix + "attn.rel_pos_h");
            if (table == null || table.rank() != 2 || table.dim(1) != hd || table.dim(0) % 2 == 0) {
                throw new ModelFormatException(w.folder() + ": missing or malformed tensor " + prefix + "attn.rel_pos_h"
                        + " (expected [2·side − 1, " + hd + "])");
            }
            side = (int) (table.dim(0) + 1) / 2;
            global = side == cfg.gridSize();
            boolean configGlobal = Arrays.stream(cfg.globalBlocks()).anyMatch(g -> g == index);
            if (global != configGlobal || (!global && side != cfg.windowSize())) {
                throw new ModelFormatException(w.folder() + ": " + prefix + "attn.rel_pos_h has " + table.dim(0)
                        + " rows, which makes block " + index + (global ? " global" : " windowed with side " + side)
                        + ", but the config says " + (configGlobal ? "global" : "windowed with side " + cfg.windowSize()));
            }
            relPosH = w.requireFloats(prefix + "attn.rel_pos_h", 2L * side - 1, hd);
            relPosW = w.requireFloats(prefix + "attn.rel_pos_w", 2L * side - 1, hd);
        }

        /** x [64·64, C] updated in place. */
        void forward(float[] x) {
            int grid = cfg.gridSize();
            int c = cfg.width();
            int n = grid * grid;
            // x = x + proj(attn(norm1(x)))
            float[] normed = new float[n * c];
            norm1.forward(x, normed, n);
            float[] attended = global ? attend(normed, 1) : Windows.merge(attend(Windows.split(normed, grid, c, side),
                    Windows.count(grid, side)), grid, c, side);
            float[] projected = new float[n * c];
            proj.forward(attended, n, projected);
            VectorMath.addInPlace(x, projected, n * c);
            // x = x + lin2(gelu(lin1(norm2(x))))
            norm2.forward(x, normed, n);
            float[] hidden = new float[n * cfg.mlpHidden()];
            lin1.forward(normed, n, hidden);
            Activations.gelu(hidden, hidden.length);
            lin2.forward(hidden, n, projected);
            VectorMath.addInPlace(x, projected, n * c);
        }

        /** Attention within each of `windows` consecutive side×side groups of rows of t [windows·side², C]. */
        private float[] attend(float[] t, int windows) {
            int c = cfg.width();
            int tokens = side * side;
            int rows = windows * tokens;
            float[] qkvOut = new float[rows * 3 * c];
            qkv.forward(t, rows, qkvOut);
            float[] out = new float[rows * c];
            float scale = (float) Math.pow(cfg.headDim(), -0.5);
            for (int win = 0; win < windows; win++) {
                int base = win * tokens * 3 * c;
                Attention.multiHead(
                        new Attention.Operand(qkvOut, 3 * c, base),
                        new Attention.Operand(qkvOut, 3 * c, base + c),
                        new Attention.Operand(qkvOut, 3 * c, base + 2 * c),
                        new Attention.Operand(out, c, win * tokens * c),
                        tokens, tokens, cfg.heads(), cfg.heads(), cfg.headDim(), scale, -1,
                        new RelativePosition(qkvOut, base, 3 * c, cfg.headDim(), side, relPosH, relPosW));
            }
            return out;
        }
    }

    /**
     * The decomposed relative-position terms of one attention grid (side × side tokens), added to the scores of
     * query (y, x), head h, key (ky, kx):
     * <pre>
     *   Σ_c q[c]·Rh[y − ky + side − 1, c]  +  Σ_c q[c]·Rw[x − kx + side − 1, c]      (q unscaled)
     * </pre>
     * The 2·side dot products are computed once per (head, query); each key then costs one addition.
     */
    record RelativePosition(float[] qkv, int base, int stride, int headDim, int side, float[] relPosH, float[] relPosW)
            implements Attention.ScoreBias {

        @Override
        public int termsLength() {
            return 2 * side;
        }

        @Override
        public void terms(int head, int queryRow, float[] dst, int off) {
            int y = queryRow / side;
            int x = queryRow % side;
            int q = base + queryRow * stride + head * headDim;
            for (int k = 0; k < side; k++) {
                dst[off + k] = VectorMath.dot(qkv, q, relPosH, (y - k + side - 1) * headDim, headDim);
                dst[off + side + k] = VectorMath.dot(qkv, q, relPosW, (x - k + side - 1) * headDim, headDim);
            }
        }

        @Override
        public void add(float[] terms, int termsOff, int keyStart, float[] scores, int scoresOff, int count) {
            int ky = keyStart / side;
            int kx = keyStart % side;
            int j = 0;
            while (j < count) {                              // one run of keys per grid row ky
                int run = Math.min(count - j, side - kx);
                float h = terms[termsOff + ky];
                int w = termsOff + side + kx;
                int s = scoresOff + j;
                for (int t = 0; t < run; t++) {
                    scores[s + t] += h + terms[w + t];
                }
                j += run;
                ky++;
                kx = 0;
            }
        }
    }
}
