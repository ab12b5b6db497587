package ai.vl4j.sam;

import ai.vl4j.ModelFormatException;
import ai.vl4j.nn.LayerNorm;
import ai.vl4j.nn.Linear;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Activations;
import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.tensor.VectorMath;
import ai.vl4j.vision.Pixels;
import ai.vl4j.vision.Taps;
import java.util.Arrays;

/**
 * SAM's image encoder (official {@code ImageEncoderViT}), spec SAM §2 step 4:
 * <pre>
 *   input [3, L, L] (normalised, padded) --conv P×P/P (+bias)--> x [E, E, D] (+ pos_embed)        E = L/P
 *   depth × Block:  x = x + proj(Attn(LN1(x)))    windows of side S (zero-padded after LN1, pads unmasked), or
 *                                                 global over all E×E tokens in the blocks whose rel_pos tables
 *                                                 span the whole grid; scores get the decomposed relative
 *                                                 position terms of the unscaled query
 *                  x = x + lin2(GELU(lin1(LN2(x))))
 *   neck(x) = LN2d(conv3×3(LN2d(conv1×1(x))))  -> image embedding [E·E, C]
 * </pre>
 * Activations are channels-last ([h, w, c] row-major), so token (y, x) is row y·w + x everywhere. One class for
 * both checkpoint layouts: the official names (DeepSeek-VL's hybrid tower keeps them) and Hugging Face's
 * {@code SamModel} names, told apart by a {@link Names} map.
 */
public final class ImageEncoder {
    private final Config cfg;
    private final Linear patchEmbed;     // conv [D, 3, P, P] as [D, 3·P·P]
    private final float[] posEmbed;      // [E·E, D], or null without absolute positions
    private final Block[] blocks;
    private final Neck neck;

    /**
     * Sizes of the encoder.
     *
     * @param imageSize    input side L (1024)
     * @param patchSize    patch side P (16), so an E×E grid with E = L/P
     * @param width        token width D (768 in SAM-B)
     * @param depth        blocks (12)
     * @param heads        attention heads (12)
     * @param mlpDim       MLP hidden width (4·D)
     * @param globalBlocks blocks with global attention ({2, 5, 8, 11})
     * @param windowSize   side of the attention windows of the other blocks (14)
     * @param outChannels  neck width C (256)
     * @param eps          LayerNorm eps of the blocks and the neck (1e-6)
     * @param qkvBias      whether the qkv projection has a bias
     * @param absPos       whether pos_embed is added after the patch embedding
     * @param relPos       whether attention adds the decomposed relative positions
     */
    public record Config(int imageSize, int patchSize, int width, int depth, int heads, int mlpDim, int[] globalBlocks,
                         int windowSize, int outChannels, float eps, boolean qkvBias, boolean absPos, boolean relPos) {
        public int gridSize() {
            return imageSize / patchSize;
        }

        public int headDim() {
            return width / heads;
        }

        boolean isGlobal(int block) {
            return Arrays.stream(globalBlocks).anyMatch(g -> g == block);
        }
    }

    /**
     * Tensor names relative to the encoder's prefix: the official segment-anything layout (and DeepSeek-VL's) or
     * transformers' {@code SamVisionEncoder}. Attention and MLP names ({@code attn.qkv}, {@code attn.proj},
     * {@code attn.rel_pos_h/w}, {@code mlp.lin1/2}) are the same in both.
     */
    public record Names(String patchEmbed, String posEmbed, String block, String norm1, String norm2, String neck,
                        String neckConv1, String neckNorm1, String neckConv2, String neckNorm2) {
        public static final Names OFFICIAL = new Names("patch_embed.proj", "pos_embed", "blocks.", "norm1", "norm2", "neck.",
                "0", "1", "2", "3");
        public static final Names HUGGING_FACE = new Names("patch_embed.projection", "pos_embed", "layers.", "layer_norm1",
                "layer_norm2", "neck.", "conv1", "layer_norm1", "conv2", "layer_norm2");
    }

    public ImageEncoder(Config cfg, Weights w, String prefix, Names names) {
        if (cfg.imageSize() % cfg.patchSize() != 0 || cfg.width() % cfg.heads() != 0) {
            throw new ModelFormatException(w.folder() + ": SAM image encoder: image size " + cfg.imageSize() + ", patch "
                    + cfg.patchSize() + ", width " + cfg.width() + " and heads " + cfg.heads() + " do not divide evenly");
        }
        this.cfg = cfg;
        int d = cfg.width();
        int p = cfg.patchSize();
        int grid = cfg.gridSize();
        String pe = prefix + names.patchEmbed();
        this.patchEmbed = new Linear(w.require(pe + ".weight", d, 3, p, p).reshape(d, 3L * p * p), w.require(pe + ".bias", d));
        this.posEmbed = cfg.absPos() ? w.requireFloats(prefix + names.posEmbed(), 1, grid, grid, d) : null;
        this.blocks = new Block[cfg.depth()];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = new Block(cfg, w, prefix + names.block() + i + ".", names, i);
        }
        this.neck = new Neck(w, prefix + names.neck(), names, d, cfg.outChannels(), cfg.eps());
    }

    public Config config() {
        return cfg;
    }

    /** Index of the first block with global attention, or −1. */
    public int firstGlobalBlock() {
        for (int i = 0; i < blocks.length; i++) {
            if (blocks[i].global) {
                return i;
            }
        }
        return -1;
    }

    /** Image embedding [E·E, C] of the normalised, padded input [3, L, L]. */
    public float[] forward(float[] input) {
        return neck.forward(trunk(input, Taps.NONE), cfg.gridSize());
    }

    /**
     * The tokens after the last block, [E·E, D], before the neck; taps receives "embed" and "block" + i (each
     * [E, E, D], the live buffer: copy what you keep).
     */
    public float[] trunk(float[] input, Taps taps) {
        int grid = cfg.gridSize();
        int d = cfg.width();
        int n = grid * grid;
        float[] patches = Pixels.patches(input, cfg.imageSize(), cfg.patchSize());
        float[] x = new float[n * d];                          // [E, E, D]
        patchEmbed.forward(patches, n, x);
        if (posEmbed != null) {
            VectorMath.addInPlace(x, posEmbed, n * d);
        }
        taps.tap("embed", x);
        for (int i = 0; i < blocks.length; i++) {
            blocks[i].forward(x);
            taps.tap("block" + i, x);
        }
        return x;
    }

    public Neck neck() {
        return neck;
    }

    /** Pre-LN ViT block with windowed or global attention and decomposed relative positions. */
    private static final class Block {
        private final Config cfg;
        private final LayerNorm norm1, norm2;
        private final Linear qkv;        // [3D, D]: output columns Q | K | V, heads side by side
        private final Linear proj;       // [D, D]
        private final Linear lin1;       // [mlp, D]
        private final Linear lin2;       // [D, mlp]
        private final float[] relPosH;   // [2·side − 1, headDim], or null without relative positions
        private final float[] relPosW;   // [2·side − 1, headDim]
        private final boolean global;
        private final int side;          // attention grid side: E (global) or the window

        Block(Config cfg, Weights w, String prefix, Names names, int index) {
            int d = cfg.width();
            int hd = cfg.headDim();
            this.cfg = cfg;
            norm1 = LayerNorm.load(w, prefix + names.norm1(), d, cfg.eps());
            qkv = Linear.load(w, prefix + "attn.qkv", d, 3 * d, cfg.qkvBias());
            proj = Linear.load(w, prefix + "attn.proj", d, d, true);
            norm2 = LayerNorm.load(w, prefix + names.norm2(), d, cfg.eps());
            lin1 = Linear.load(w, prefix + "mlp.lin1", d, cfg.mlpDim(), true);
            lin2 = Linear.load(w, prefix + "mlp.lin2", cfg.mlpDim(), d, true);
            boolean configGlobal = cfg.isGlobal(index);
            if (!cfg.relPos()) {
                global = configGlobal;
                side = global ? cfg.gridSize() : cfg.windowSize();
                relPosH = null;
                relPosW = null;
                return;
            }
            // The checkpoint says which blocks are global: their tables span the whole grid (2·E − 1 rows).
            Tensor table = w.get(prefix + "attn.rel_pos_h");
            if (table == null || table.rank() != 2 || table.dim(1) != hd || table.dim(0) % 2 == 0) {
                throw new ModelFormatException(w.folder() + ": missing or malformed tensor " + prefix + "attn.rel_pos_h"
                        + " (expected [2·side − 1, " + hd + "])");
            }
            side = (int) (table.dim(0) + 1) / 2;
            global = side == cfg.gridSize();
            if (global != configGlobal || (!global && side != cfg.windowSize())) {
                throw new ModelFormatException(w.folder() + ": " + prefix + "attn.rel_pos_h has " + table.dim(0)
                        + " rows, which makes block " + index + (global ? " global" : " windowed with side " + side)
                        + ", but the config says " + (configGlobal ? "global" : "windowed with side " + cfg.windowSize()));
            }
            relPosH = w.requireFloats(prefix + "attn.rel_pos_h", 2L * side - 1, hd);
            relPosW = w.requireFloats(prefix + "attn.rel_pos_w", 2L * side - 1, hd);
        }

        /** x [E·E, D] updated in place. */
        void forward(float[] x) {
            int grid = cfg.gridSize();
            int d = cfg.width();
            int n = grid * grid;
            // x = x + proj(attn(norm1(x)))
            float[] normed = new float[n * d];
            norm1.forward(x, normed, n);
            float[] attended = global ? attend(normed, 1) : Windows.merge(attend(Windows.split(normed, grid, d, side),
                    Windows.count(grid, side)), grid, d, side);
            float[] projected = new float[n * d];
            proj.forward(attended, n, projected);
            VectorMath.addInPlace(x, projected, n * d);
            // x = x + lin2(gelu(lin1(norm2(x))))
            norm2.forward(x, normed, n);
            float[] hidden = new float[n * cfg.mlpDim()];
            lin1.forward(normed, n, hidden);
            Activations.gelu(hidden, hidden.length);
            lin2.forward(hidden, n, projected);
            VectorMath.addInPlace(x, projected, n * d);
        }

        /** Attention within each of `windows` consecutive side×side groups of rows of t [windows·side², D]. */
        private float[] attend(float[] t, int windows) {
            int d = cfg.width();
            int tokens = side * side;
            int rows = windows * tokens;
            float[] qkvOut = new float[rows * 3 * d];
            qkv.forward(t, rows, qkvOut);
            float[] out = new float[rows * d];
            float scale = (float) Math.pow(cfg.headDim(), -0.5);
            for (int win = 0; win < windows; win++) {
                int base = win * tokens * 3 * d;
                Attention.multiHead(
                        new Attention.Operand(qkvOut, 3 * d, base),
                        new Attention.Operand(qkvOut, 3 * d, base + d),
                        new Attention.Operand(qkvOut, 3 * d, base + 2 * d),
                        new Attention.Operand(out, d, win * tokens * d),
                        tokens, tokens, cfg.heads(), cfg.heads(), cfg.headDim(), scale, -1,
                        relPosH == null ? null
                                : new RelativePosition(qkvOut, base, 3 * d, cfg.headDim(), side, relPosH, relPosW));
            }
            return out;
        }
    }
}
