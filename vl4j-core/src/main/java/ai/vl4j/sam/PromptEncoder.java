package ai.vl4j.sam;

import ai.vl4j.nn.Conv2d;
import ai.vl4j.nn.LayerNorm;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Activations;

/**
 * SAM's prompt encoder (official {@code PromptEncoder}), spec SAM §3. Points and box corners become sparse
 * tokens, a low-resolution mask becomes a dense map:
 * <pre>
 *   point (x, y) in the L×L input frame, label l:  p = pe((x + 0.5)/L, (y + 0.5)/L)
 *       l = 1: p + point_embed[1];   l = 0: p + point_embed[0];   padding (l = −1): not_a_point_embed
 *   points without a box get one padding point appended
 *   box (x0, y0, x1, y1):  pe(top-left + 0.5) + point_embed[2],  pe(bottom-right + 0.5) + point_embed[3]
 *   sparse = (points[, padding], box corners)                                             [N, C]
 *   dense  = no mask: no_mask_embed at every position                                      [E·E, C]
 *            mask [4E, 4E]: conv2×2/2 → LN2d → GELU → conv2×2/2 → LN2d → GELU → conv1×1
 * </pre>
 * Maps are channels-last, so dense row i·E + j is position (i, j).
 */
public final class PromptEncoder {
    private final Config cfg;
    private final PositionalEncoding pe;
    private final float[][] pointEmbed;  // 4 × [C]: background, foreground, box top-left, box bottom-right
    private final float[] notAPoint;     // [C]
    private final float[] noMask;        // [C]
    private final Conv2d maskConv1;      // [M/4, 1, 2, 2] stride 2
    private final LayerNorm maskNorm1;   // [M/4]
    private final Conv2d maskConv2;      // [M, M/4, 2, 2] stride 2
    private final LayerNorm maskNorm2;   // [M]
    private final Conv2d maskConv3;      // [C, M, 1, 1]
    private final float[] imagePe;       // [E·E, C]

    /**
     * @param hiddenSize        token width C (256)
     * @param imageSize         model input side L (1024)
     * @param embeddingSize     image embedding side E (64)
     * @param maskInputChannels M (16)
     * @param eps               LayerNorm2d eps (1e-6)
     */
    public record Config(int hiddenSize, int imageSize, int embeddingSize, int maskInputChannels, float eps) {
        /** Side of a mask input and of the decoder's low-resolution masks: 4E (256). */
        public int maskSize() {
            return 4 * embeddingSize;
        }
    }

    /** Loads the HF {@code SamModel} names: {@code shared_image_embedding.*} and {@code prompt_encoder.*}. */
    public PromptEncoder(Config cfg, Weights w) {
        this.cfg = cfg;
        int c = cfg.hiddenSize();
        int m = cfg.maskInputChannels();
        String gaussian = w.get("shared_image_embedding.positional_embedding") != null || w.get(SHARED_ALIAS) == null
                ? "shared_image_embedding.positional_embedding" : SHARED_ALIAS;
        this.pe = new PositionalEncoding(w.requireFloats(gaussian, 2, c / 2));
        this.pointEmbed = new float[4][];
        for (int i = 0; i < 4; i++) {
            pointEmbed[i] = w.requireFloats("prompt_encoder.point_embed." + i + ".weight", 1, c);
        }
        this.notAPoint = w.requireFloats("prompt_encoder.not_a_point_embed.weight", 1, c);
        this.noMask = w.requireFloats("prompt_encoder.no_mask_embed.weight", 1, c);
        String p = "prompt_encoder.mask_embed.";
        this.maskConv1 = new Conv2d(w.require(p + "conv1.weight", m / 4, 1, 2, 2), w.require(p + "conv1.bias", m / 4), 2, 0);
        this.maskNorm1 = LayerNorm.load(w, p + "layer_norm1", m / 4, cfg.eps());
        this.maskConv2 = new Conv2d(w.require(p + "conv2.weight", m, m / 4, 2, 2), w.require(p + "conv2.bias", m), 2, 0);
        this.maskNorm2 = LayerNorm.load(w, p + "layer_norm2", m, cfg.eps());
        this.maskConv3 = new Conv2d(w.require(p + "conv3.weight", c, m, 1, 1), w.require(p + "conv3.bias", c), 1, 0);
        this.imagePe = pe.dense(cfg.embeddingSize());
    }

    /** The tied copy of the gaussian matrix that {@code SamModel} may also save. */
    static final String SHARED_ALIAS = "prompt_encoder.shared_embedding.positional_embedding";

    public Config config() {
        return cfg;
    }

    /** The image PE ({@code get_dense_pe}), [E·E, C]. Shared: do not modify. */
    public float[] imagePositionalEncoding() {
        return imagePe;
    }

    /** Sparse tokens of a prompt with `count` points (and the padding point) and/or a box. */
    public static int sparseCount(int points, boolean box) {
        return points + (box ? 2 : points > 0 ? 1 : 0);
    }

    /**
     * Sparse prompt tokens [N, C], N = {@link #sparseCount}.
     *
     * @param points x, y pairs in the L×L input frame (before the +0.5 to the pixel centre), or null
     * @param labels 1 foreground, 0 background, one per point
     * @param box    x0, y0, x1, y1 in the input frame, or null
     */
    public float[] sparse(double[] points, int[] labels, double[] box) {
        int c = cfg.hiddenSize();
        int n = points == null ? 0 : points.length / 2;
        float[] out = new float[sparseCount(n, box != null) * c];
        for (int i = 0; i < n; i++) {
            embedCorner(points[2 * i], points[2 * i + 1], pointEmbed[labels[i] == 1 ? 1 : 0], out, i * c);
        }
        int row = n;
        if (n > 0 && box == null) {
            System.arraycopy(notAPoint, 0, out, row++ * c, c);   // the padding point: its pe is discarded
        }
        if (box != null) {
            embedCorner(box[0], box[1], pointEmbed[2], out, row++ * c);
            embedCorner(box[2], box[3], pointEmbed[3], out, row * c);
        }
        return out;
    }

    /** out[off ..] = pe((x + 0.5)/L, (y + 0.5)/L) + embed; the shift and scale in double, rounded once to float. */
    private void embedCorner(double x, double y, float[] embed, float[] out, int off) {
        int l = cfg.imageSize();
        pe.encode((float) ((x + 0.5) / l), (float) ((y + 0.5) / l), out, off);
        for (int j = 0; j < embed.length; j++) {
            out[off + j] += embed[j];
        }
    }

    /** Dense prompt embedding [E·E, C] of a mask input [4E, 4E] (low-res logits), or no_mask_embed everywhere (null). */
    public float[] dense(float[] maskInput) {
        int c = cfg.hiddenSize();
        int e = cfg.embeddingSize();
        if (maskInput == null) {
            float[] out = new float[e * e * c];
            for (int i = 0; i < e * e; i++) {
                System.arraycopy(noMask, 0, out, i * c, c);
            }
            return out;
        }
        int s = cfg.maskSize();
        if (maskInput.length != s * s) {
            throw new IllegalArgumentException("mask input of " + maskInput.length + " values, expected " + s + "×" + s);
        }
        float[] x = maskConv1.forward(maskInput, s, s);           // [2E, 2E, M/4]
        maskNorm1.forward(x, x, 4 * e * e);
        Activations.gelu(x, x.length);
        x = maskConv2.forward(x, 2 * e, 2 * e);                   // [E, E, M]
        maskNorm2.forward(x, x, e * e);
        Activations.gelu(x, x.length);
        return maskConv3.forward(x, e, e);                        // [E, E, C]
    }
}
