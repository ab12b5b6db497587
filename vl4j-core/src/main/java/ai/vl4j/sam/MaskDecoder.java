package ai.vl4j.sam;

import ai.vl4j.nn.ConvTranspose2d;
import ai.vl4j.nn.LayerNorm;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Activations;
import ai.vl4j.tensor.Parallel;

/**
 * SAM's mask decoder (official {@code MaskDecoder}), spec SAM §4:
 * <pre>
 *   tokens = (iou_token, mask_tokens[0..M], sparse)                      [T, C],  T = 1 + (M+1) + N
 *   src = image_embedding + dense;  pos = image PE                        [E², C]
 *   tokens', src' = TwoWayTransformer(src, pos, tokens)
 *   U = GELU(ConvT2×2/2(GELU(LN2d(ConvT2×2/2(src')))))                     [(4E)², C/8]
 *   mask_t = MLP_t(tokens'[1 + t]) · Uᵀ   for t = 0..M                     [M+1, (4E)²]   (hypernetworks)
 *   iou = MLP(tokens'[0])                                                  [M+1]
 *   multimask: outputs 1..M;  single: output 0 (the caller picks by IoU, not the decoder)
 * </pre>
 * M = num_multimask_outputs (3). Batched over prompts that share the image and the dense embedding.
 */
public final class MaskDecoder {
    private final Config cfg;
    private final float[] outputTokens;        // [1 + (M+1), C]: iou token, then the mask tokens
    private final TwoWayTransformer transformer;
    private final ConvTranspose2d upscale1;    // C -> C/4
    private final LayerNorm upscaleNorm;       // [C/4], LayerNorm2d eps 1e-6
    private final ConvTranspose2d upscale2;    // C/4 -> C/8
    private final Mlp[] hypernetworks;         // M+1 × (C -> C -> C/8)
    private final Mlp iouHead;                 // C -> H -> M+1

    /**
     * @param hiddenSize        C (256)
     * @param depth             two-way transformer layers (2)
     * @param heads             attention heads (8)
     * @param mlpDim            the transformer MLP's hidden width (2048)
     * @param downsampleRate    the cross attentions' width divisor (2)
     * @param multimaskOutputs  M (3)
     * @param iouHeadDepth      layers of the IoU head (3)
     * @param iouHeadHidden     its hidden width (256)
     */
    public record Config(int hiddenSize, int depth, int heads, int mlpDim, int downsampleRate, int multimaskOutputs,
                         int iouHeadDepth, int iouHeadHidden) {
        public int maskTokens() {
            return multimaskOutputs + 1;
        }
    }

    /**
     * Low-resolution masks and predicted IoUs of a batch of prompts: prompt b, mask k at
     * lowRes[(b·masks + k)·side², …) and iou[b·masks + k].
     */
    public record Output(float[] lowRes, float[] iou, int batch, int masks, int side) {
    }

    /** Loads the HF {@code SamModel} names under {@code mask_decoder.}. */
    public MaskDecoder(Config cfg, Weights w) {
        this.cfg = cfg;
        int c = cfg.hiddenSize();
        int tokens = cfg.maskTokens();
        String p = "mask_decoder.";
        float[] iou = w.requireFloats(p + "iou_token.weight", 1, c);
        float[] masks = w.requireFloats(p + "mask_tokens.weight", tokens, c);
        this.outputTokens = new float[(1 + tokens) * c];
        System.arraycopy(iou, 0, outputTokens, 0, c);
        System.arraycopy(masks, 0, outputTokens, c, tokens * c);
        this.transformer = new TwoWayTransformer(cfg, w, p + "transformer.");
        this.upscale1 = ConvTranspose2d.load(w, p + "upscale_conv1", c, c / 4, 2);
        this.upscaleNorm = LayerNorm.load(w, p + "upscale_layer_norm", c / 4, 1e-6f);
        this.upscale2 = ConvTranspose2d.load(w, p + "upscale_conv2", c / 4, c / 8, 2);
        this.hypernetworks = new Mlp[tokens];
        for (int t = 0; t < tokens; t++) {
            hypernetworks[t] = new Mlp(w, p + "output_hypernetworks_mlps." + t + ".", c, c, c / 8, 3);
        }
        this.iouHead = new Mlp(w, p + "iou_prediction_head.", c, cfg.iouHeadHidden(), tokens, cfg.iouHeadDepth());
    }

    public Config config() {
        return cfg;
    }

    /**
     * What the decoder computes from the image and the dense embedding alone, shared by every prompt that uses
     * them: src = image + dense, and the first layer's projections of it.
     */
    public static final class ImageContext {
        private final TwoWayTransformer.ImageSide side;
        private final int grid;

        private ImageContext(TwoWayTransformer.ImageSide side, int grid) {
            this.side = side;
            this.grid = grid;
        }
    }

    /**
     * The context of an image embedding [E², C] (channels-last), its PE [E², C] and a dense prompt embedding [E², C].
     */
    public ImageContext context(float[] image, float[] pe, float[] dense, int side) {
        int e2 = side * side;
        int c = cfg.hiddenSize();
        float[] src = new float[e2 * c];                        // [E², C]
        for (int i = 0; i < src.length; i++) {
            src[i] = image[i] + dense[i];
        }
        return new ImageContext(transformer.imageSide(src, pe, e2), side);
    }

    /**
     * Masks of a batch of prompts on one image.
     *
     * @param image  image embedding [E², C]
     * @param pe     image PE [E², C]
     * @param sparse sparse prompt tokens [batch·n, C]
     * @param dense  dense prompt embedding [E², C], the same for every prompt
     */
    public Output predict(float[] image, float[] pe, float[] sparse, int batch, int n, float[] dense, int side, boolean multimask) {
        return predict(context(image, pe, dense, side), sparse, batch, n, multimask);
    }

    /**
     * Masks of a batch of prompts [batch·n, C] on an image context. Large batches run in chunks of at most
     * {@link #CHUNK_ROWS} image rows (8 prompts of SAM-B's 64² positions): each prompt carries its own copy of the
     * image through the transformer, and chunks keep those copies to a few tens of MB.
     */
    public Output predict(ImageContext context, float[] sparse, int batch, int n, boolean multimask) {
        return predict(context, sparse, batch, n, multimask, CHUNK_ROWS);
    }

    /** As above with chunks of at most chunkRows image rows (tests force small chunks). */
    Output predict(ImageContext context, float[] sparse, int batch, int n, boolean multimask, int chunkRows) {
        int chunk = Math.max(1, chunkRows / (context.grid * context.grid));
        if (batch <= chunk) {
            return predictChunk(context, sparse, batch, n, multimask);
        }
        int c = cfg.hiddenSize();
        Output first = null;
        float[] lowRes = null;
        float[] iou = null;
        for (int b0 = 0; b0 < batch; b0 += chunk) {
            int b = Math.min(chunk, batch - b0);
            float[] part = new float[b * n * c];
            System.arraycopy(sparse, b0 * n * c, part, 0, part.length);
            Output out = predictChunk(context, part, b, n, multimask);
            if (first == null) {
                first = out;
                lowRes = new float[batch * out.masks() * out.side() * out.side()];
                iou = new float[batch * out.masks()];
            }
            int perPrompt = out.masks() * out.side() * out.side();
            System.arraycopy(out.lowRes(), 0, lowRes, b0 * perPrompt, b * perPrompt);
            System.arraycopy(out.iou(), 0, iou, b0 * out.masks(), b * out.masks());
        }
        return new Output(lowRes, iou, batch, first.masks(), first.side());
    }

    /** Image rows (prompts × E²) the transformer holds at once. */
    static final int CHUNK_ROWS = 8 * 64 * 64;

    private Output predictChunk(ImageContext context, float[] sparse, int batch, int n, boolean multimask) {
        int c = cfg.hiddenSize();
        int side = context.grid;
        int e2 = side * side;
        int head = 1 + cfg.maskTokens();
        int t = head + n;
        float[] tokens = new float[batch * t * c];            // [B, T, C]
        for (int b = 0; b < batch; b++) {
            System.arraycopy(outputTokens, 0, tokens, b * t * c, head * c);
            System.arraycopy(sparse, b * n * c, tokens, (b * t + head) * c, n * c);
        }
        float[] queries = tokens.clone();
        float[] src = transformer.forward(context.side, queries, tokens, batch, t);    // [B, E², C]

        int first = multimask ? 1 : 0;
        int count = multimask ? cfg.multimaskOutputs() : 1;
        int low = 4 * side;
        float[] lowRes = new float[batch * count * low * low];
        float[] iou = new float[batch * count];
        int plane = low * low;
        for (int b = 0; b < batch; b++) {
            float[] hyper = new float[count * (c / 8)];                  // [count, C/8]
            for (int k = 0; k < count; k++) {
                float[] token = new float[c];
                System.arraycopy(queries, (b * t + 1 + first + k) * c, token, 0, c);
                System.arraycopy(hypernetworks[first + k].forward(token, 1), 0, hyper, k * (c / 8), c / 8);
            }
            masks(b == 0 ? src : java.util.Arrays.copyOfRange(src, b * e2 * c, (b + 1) * e2 * c), side, hyper, count, lowRes,
                    b * count * plane);
            float[] iouToken = new float[c];
            System.arraycopy(queries, b * t * c, iouToken, 0, c);
            System.arraycopy(iouHead.forward(iouToken, 1), first, iou, b * count, count);
        }
        return new Output(lowRes, iou, batch, count, low);
    }

    /**
     * A prompt's count masks [(4E)²] at lowRes[to ..] from its transformed image rows x [E², C] and its hypernetwork
     * outputs hyper [count, C/8]: mask = hyper · U with U = GELU(ConvT2(GELU(LN2d(ConvT1(x))))). The first
     * convolution's output pixels stay in patch order (LayerNorm2d and GELU act on each pixel's channels, so they
     * need no map); the second's come channel-major, [4·C/8, 4E²] (row s2·C/8 + o: patch pixel s2, channel o), so
     * that its bias, GELU and the hypernetwork sums run along the pixels in one pass; {@link #place} then puts each
     * pixel where it lies.
     */
    private void masks(float[] x, int side, float[] hyper, int count, float[] lowRes, int to) {
        int e2 = side * side;
        int c8 = upscale2.out();
        float[] y = upscale1.forwardPatches(x, e2);                     // [E²·k1², C/4]
        int pixels = e2 * upscale1.kernel() * upscale1.kernel();
        upscaleNorm.forward(y, y, pixels);
        Activations.gelu(y, y.length);
        float[] yT = upscale2.forwardPatchesTransposed(y, pixels);      // [k2²·C/8, E²·k1²]
        int k2 = upscale2.kernel() * upscale2.kernel();
        float[] bias = upscale2.patchBias() != null ? upscale2.patchBias() : new float[k2 * c8];
        float[] perPixel = new float[count * k2 * pixels];              // [count, k2², E²·k1²]
        for (int s2 = 0; s2 < k2; s2++) {
            Activations.geluThenCombine(yT, s2 * c8 * pixels, c8, pixels, bias, s2 * c8, hyper, count, perPixel, s2 * pixels,
                    k2 * pixels);
        }
        place(perPixel, side, count, lowRes, to);
    }

    /**
     * The masks' values perPixel [count, k2², E²·k1²] (mask j, second patch pixel s2 = ky2·k2 + kx2, first-level
     * pixel (p = py·E + px)·k1² + ky1·k1 + kx1) to count maps [(4E)²] at lowRes[to ..]: that pixel lies at row
     * (py·k1 + ky1)·k2 + ky2, column (px·k1 + kx1)·k2 + kx2.
     */
    private void place(float[] perPixel, int side, int count, float[] lowRes, int to) {
        int k1 = upscale1.kernel();
        int k2 = upscale2.kernel();
        int low = side * k1 * k2;
        int plane = low * low;
        int pixels = side * side * k1 * k1;
        // one unit per (mask, second patch pixel): each writes its own 1/k2² of one map's pixels
        Parallel.forRange(0, count * k2 * k2, 1, (lo, hi) -> {
            for (int unit = lo; unit < hi; unit++) {
                int j = unit / (k2 * k2);
                int ky2 = unit % (k2 * k2) / k2;
                int kx2 = unit % k2;
                int from = unit * pixels;
                int r = 0;
                for (int py = 0; py < side; py++) {
                    for (int px = 0; px < side; px++) {
                        for (int ky1 = 0; ky1 < k1; ky1++) {
                            int row = to + j * plane + ((py * k1 + ky1) * k2 + ky2) * low;
                            for (int kx1 = 0; kx1 < k1; kx1++, r++) {
                                lowRes[row + (px * k1 + kx1) * k2 + kx2] = perPixel[from + r];
                            }
                        }
                    }
                }
            }
        });
    }
}
