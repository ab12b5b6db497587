package ai.vl4j.sam;

import ai.vl4j.InvalidInputException;
import ai.vl4j.image.RgbImage;

/**
 * Promptable segmentation of one image (official {@code SamPredictor}): {@link #setImage} encodes the image once,
 * then each {@link #predict} runs only the prompt encoder and the mask decoder. Points and boxes are in
 * original-image pixels; they are checked (inside the image, labels 0/1, x0 ≤ x1 and y0 ≤ y1, a mask input of
 * the model's low-res size) and a bad one is an {@link InvalidInputException} naming the field and value.
 * Not thread-safe: one predictor per thread (they may share the {@link Sam}).
 */
public final class SamPredictor {
    private final Sam sam;
    private float[] embedding;     // [E², C]
    private int height, width;     // original image
    private int inputH, inputW;    // resized, before padding
    private MaskDecoder.ImageContext noMask;   // the decoder's image side without a mask input, made at first use

    /**
     * A checked prompt, its coordinates transformed to the model's input frame (before the +0.5 of the prompt
     * encoder), as the official predictor hands it to the model.
     *
     * @param coords    x, y per point in the input frame (float32 values), or null
     * @param labels    one per point: 1 foreground, 0 background
     * @param box       x0, y0, x1, y1 in the input frame (float32 values), or null
     * @param maskInput low-res logits [s·s] of an earlier prediction, or null
     */
    public record Prompt(double[] coords, int[] labels, double[] box, float[] maskInput) {
        public int points() {
            return coords == null ? 0 : coords.length / 2;
        }
    }

    public SamPredictor(Sam sam) {
        this.sam = sam;
    }

    public Sam model() {
        return sam;
    }

    /** Preprocesses and encodes the image; later predictions reuse its embedding. */
    public void setImage(RgbImage image) {
        int l = sam.imageSize();
        RgbImage resized = SamTransforms.resize(image, l);
        setEmbedding(sam.imageEncoder().forward(SamTransforms.input(resized, l)), image.height(), image.width());
    }

    /** Sets an image embedding [E², C] computed elsewhere, for an image of h×w. */
    public void setEmbedding(float[] imageEmbedding, int h, int w) {
        int[] input = SamTransforms.preprocessShape(h, w, sam.imageSize());
        this.embedding = imageEmbedding;
        this.noMask = null;
        this.height = h;
        this.width = w;
        this.inputH = input[0];
        this.inputW = input[1];
    }

    public boolean hasImage() {
        return embedding != null;
    }

    /** The image embedding [E², C] (channels-last). */
    public float[] imageEmbedding() {
        requireImage();
        return embedding;
    }

    /** {h, w} of the image. */
    public int[] originalSize() {
        requireImage();
        return new int[] {height, width};
    }

    /** {h', w'}: the image's size inside the model input. */
    public int[] inputSize() {
        requireImage();
        return new int[] {inputH, inputW};
    }

    /**
     * The masks of a prompt.
     *
     * @param points    [n][2] x, y in image pixels, or null
     * @param labels    [n]: 1 foreground, 0 background (null when points is)
     * @param box       x0, y0, x1, y1 in image pixels, or null
     * @param maskInput low-res logits [s·s] of an earlier prediction ({@link Prediction#lowRes}), or null
     * @param multimask three masks (the official default) or one
     */
    public Prediction predict(double[][] points, int[] labels, double[] box, float[] maskInput, boolean multimask) {
        return predict(prompt(points, labels, box, maskInput), multimask);
    }

    /** The masks of an already checked prompt. */
    public Prediction predict(Prompt prompt, boolean multimask) {
        requireImage();
        float[] sparse = sam.promptEncoder().sparse(prompt.coords(), prompt.labels(), prompt.box());
        int n = PromptEncoder.sparseCount(prompt.points(), prompt.box() != null);
        MaskDecoder.Output out = decode(sparse, 1, n, prompt.maskInput(), multimask);
        float[] logits = SamTransforms.postprocess(out.lowRes(), out.masks(), out.side(), sam.imageSize(), inputH, inputW, height, width);
        return new Prediction(out.masks(), height, width, logits, out.iou(), out.lowRes(), out.side());
    }

    /**
     * The decoder on a batch of prompts: sparse tokens [batch·n, C] and one mask input [s·s] (or null) for all. Without
     * a mask input the image's side of the decoder is computed once per image and reused.
     */
    public MaskDecoder.Output decode(float[] sparse, int batch, int n, float[] maskInput, boolean multimask) {
        requireImage();
        MaskDecoder.ImageContext context;
        if (maskInput == null) {
            if (noMask == null) {
                noMask = context(null);
            }
            context = noMask;
        } else {
            context = context(maskInput);
        }
        return sam.maskDecoder().predict(context, sparse, batch, n, multimask);
    }

    private MaskDecoder.ImageContext context(float[] maskInput) {
        PromptEncoder encoder = sam.promptEncoder();
        return sam.maskDecoder().context(embedding, encoder.imagePositionalEncoding(), encoder.dense(maskInput),
                encoder.config().embeddingSize());
    }

    /** Checks a prompt in image pixels and transforms it to the input frame (official {@code apply_coords}). */
    public Prompt prompt(double[][] points, int[] labels, double[] box, float[] maskInput) {
        requireImage();
        double[] coords = null;
        int[] checkedLabels = null;
        if (points != null && points.length > 0) {
            if (labels == null || labels.length != points.length) {
                throw new InvalidInputException("label: " + (labels == null ? "none" : labels.length) + " labels for "
                        + points.length + " points; give one label (1 foreground, 0 background) per point");
            }
            coords = new double[2 * points.length];
            checkedLabels = labels.clone();
            for (int i = 0; i < points.length; i++) {
                double[] p = points[i];
                if (p == null || p.length != 2) {
                    throw new InvalidInputException("point " + i + ": expected two coordinates x, y");
                }
                if (!inside(p[0], width) || !inside(p[1], height)) {
                    throw new InvalidInputException("point " + i + " (" + num(p[0]) + ", " + num(p[1]) + ") is outside the image ("
                            + width + "×" + height + " pixels: 0 ≤ x ≤ " + width + ", 0 ≤ y ≤ " + height + ")");
                }
                if (labels[i] != 0 && labels[i] != 1) {
                    throw new InvalidInputException("label " + labels[i] + " of point " + i + " (" + num(p[0]) + ", " + num(p[1])
                            + "): must be 1 (foreground) or 0 (background)");
                }
                coords[2 * i] = toInputX(p[0]);
                coords[2 * i + 1] = toInputY(p[1]);
            }
        } else if (labels != null && labels.length > 0) {
            throw new InvalidInputException("label: " + labels.length + " labels but no points");
        }
        double[] inputBox = null;
        if (box != null) {
            if (box.length != 4) {
                throw new InvalidInputException("box: " + box.length + " numbers, expected x0, y0, x1, y1");
            }
            String b = "box (" + num(box[0]) + ", " + num(box[1]) + ", " + num(box[2]) + ", " + num(box[3]) + ")";
            for (int i = 0; i < 4; i++) {
                if (!inside(box[i], i % 2 == 0 ? width : height)) {
                    throw new InvalidInputException(b + ": " + (i % 2 == 0 ? "x" : "y") + (i / 2) + " " + num(box[i])
                            + " is outside the image (" + width + "×" + height + " pixels)");
                }
            }
            if (box[2] < box[0]) {
                throw new InvalidInputException(b + ": x1 " + num(box[2]) + " < x0 " + num(box[0]));
            }
            if (box[3] < box[1]) {
                throw new InvalidInputException(b + ": y1 " + num(box[3]) + " < y0 " + num(box[1]));
            }
            inputBox = new double[] {toInputX(box[0]), toInputY(box[1]), toInputX(box[2]), toInputY(box[3])};
        }
        if (maskInput != null) {
            int s = sam.maskSize();
            if (maskInput.length != s * s) {
                throw new InvalidInputException("mask input: " + maskInput.length + " values, expected [1, " + s + ", " + s
                        + "] = " + s * s + " (the low-res logits of an earlier prediction of this model)");
            }
        }
        return new Prompt(coords, checkedLabels, inputBox, maskInput);
    }

    /** x·(w'/w) in double, then float32 as the official predictor's tensors. */
    private double toInputX(double x) {
        return (float) (x * ((double) inputW / width));
    }

    private double toInputY(double y) {
        return (float) (y * ((double) inputH / height));
    }

    private static boolean inside(double v, int size) {
        return v >= 0 && v <= size;                  // false for NaN
    }

    static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    private void requireImage() {
        if (embedding == null) {
            throw new IllegalStateException("no image: call setImage first");
        }
    }
}
