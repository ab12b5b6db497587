package ai.vl4j.train.data;

/** The three kinds of training sample of the JSONL format; {@link #label} is the name the fixtures use. */
public enum SampleKind {
    /** {@code text} without images: {@code [BOS] + encode(text) + [EOS]}, every token after BOS supervised. */
    TEXT("text"),
    /** {@code text} with images (a caption, or interleaved image-text): as TEXT, image positions not supervised. */
    CAPTION("caption"),
    /** {@code conversations}: the deepseek template, only the Assistant answers (and their EOS) supervised. */
    SFT("sft");

    public final String label;

    SampleKind(String label) {
        this.label = label;
    }
}
