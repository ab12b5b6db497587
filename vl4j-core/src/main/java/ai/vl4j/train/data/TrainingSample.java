package ai.vl4j.train.data;

import ai.vl4j.InvalidInputException;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.ImageProcessor;
import java.nio.file.Path;
import java.util.List;

/**
 * One sample made ready for a training step (fixture README §3): the token ids the model reads, the labels it
 * is scored against, and where each image's rows go. Images are not held: {@link #pixels(int)} decodes and
 * preprocesses one when asked, so a sample costs its ids and labels only.
 *
 * <p>Labels follow Hugging Face (not shifted): {@code labels[t] = inputIds[t]} for a supervised token,
 * {@link #IGNORE} (-100) at position 0 (BOS), at every image position and at every token of a masked
 * segment (SFT: system prompt, user turns, the {@code Assistant:} prefix). The loss scores the logits at t
 * against {@code labels[t + 1]}. The arrays belong to the sample: read them, do not modify them.
 */
public final class TrainingSample {
    /** The label of a position that is not scored (HF {@code ignore_index}). */
    public static final int IGNORE = -100;

    /** A piece of the sample's text, tokenized on its own; supervised pieces give the labels. */
    public record Segment(String text, boolean supervised) {
    }

    /** The positions [start, end) of one image's rows in inputIds (numImageTokens of them). */
    public record ImageSpan(int start, int end) {
    }

    private final SampleSource source;
    private final SampleKind kind;
    private final List<Segment> segments;
    private final int[] tokenizerIds;     // [BOS, ids of each segment..., (EOS)], one placeholder id per image
    private final int[] inputIds;         // [T], each placeholder expanded to numImageTokens copies
    private final int[] labels;           // [T]
    private final List<ImageSpan> imageSpans;
    private final List<Path> images;
    private final int nSupervised;
    private final ImageProcessor processor;

    TrainingSample(SampleSource source, SampleKind kind, List<Segment> segments, int[] tokenizerIds, int[] inputIds, int[] labels,
                   List<ImageSpan> imageSpans, List<Path> images, ImageProcessor processor) {
        this.source = source;
        this.kind = kind;
        this.segments = List.copyOf(segments);
        this.tokenizerIds = tokenizerIds;
        this.inputIds = inputIds;
        this.labels = labels;
        this.imageSpans = List.copyOf(imageSpans);
        this.images = List.copyOf(images);
        this.processor = processor;
        int n = 0;
        for (int label : labels) {
            if (label != IGNORE) {
                n++;
            }
        }
        this.nSupervised = n;
    }

    /** The JSONL file and line. */
    public SampleSource source() {
        return source;
    }

    public SampleKind kind() {
        return kind;
    }

    /** The whole text the ids encode (without BOS; for SFT the templated conversation, {@code sft_format}). */
    public String text() {
        StringBuilder out = new StringBuilder();
        segments.forEach(s -> out.append(s.text()));
        return out.toString();
    }

    /** The text in the pieces that were tokenized one by one (one supervised piece for TEXT and CAPTION). */
    public List<Segment> segments() {
        return segments;
    }

    /** The ids before image expansion: BOS, the segments' ids, EOS (TEXT, CAPTION); one placeholder per image. */
    public int[] tokenizerIds() {
        return tokenizerIds;
    }

    /** The ids the model reads, [T]: BOS first, each image placeholder expanded to numImageTokens copies. */
    public int[] inputIds() {
        return inputIds;
    }

    /** [T], not shifted: the token itself where supervised, {@link #IGNORE} elsewhere. */
    public int[] labels() {
        return labels;
    }

    /** T, the sequence length. */
    public int length() {
        return inputIds.length;
    }

    /** Number of supervised positions (labels other than -100): this sample's share of the loss's N. */
    public int nSupervised() {
        return nSupervised;
    }

    /** Each image's positions in inputIds, in image order. */
    public List<ImageSpan> imageSpans() {
        return imageSpans;
    }

    /** The image files, in placeholder order. */
    public List<Path> images() {
        return images;
    }

    /**
     * Image i decoded and preprocessed exactly as inference does it ({@code ImageProcessor}: Pillow bicubic
     * resize, expand2square, /255): [3, S, S] with S the processor's image size. Read from disk on each call.
     *
     * @throws BadSampleException naming this sample's file and line if the image cannot be read or decoded
     */
    public float[] pixels(int i) {
        Path file = images.get(i);
        try {
            return processor.preprocess(ImageLoader.load(file));
        } catch (InvalidInputException e) {
            throw new BadSampleException(source, "images[" + i + "]", e.getMessage(), e);
        }
    }

    /** Every image's pixels, in order ({@link #pixels(int)} for each). */
    public float[][] pixels() {
        float[][] out = new float[images.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = pixels(i);
        }
        return out;
    }

    @Override
    public String toString() {
        return source + " (" + kind.label + ", " + inputIds.length + " tokens, " + images.size() + " images, "
                + nSupervised + " supervised)";
    }
}
