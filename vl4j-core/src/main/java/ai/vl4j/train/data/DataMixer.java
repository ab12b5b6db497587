package ai.vl4j.train.data;

/**
 * The rule that mixes a multimodal source with a text-only one (DeepSeek-VL stage 2: joint pre-training on
 * vision-language and pure language data, so the LLM keeps its language skill).
 *
 * <p>Each draw is text-only with probability {@code textRatio}, independently: draw d takes the text source
 * when the d-th uniform of the mixer's seeded sequence is below the ratio. Over n draws the text share is
 * binomial (mean n·ratio, deviation sqrt(n·ratio·(1−ratio))); a batch is not forced to the exact proportion,
 * a run of many steps is. The choice is a function of (seed, d), so a saved draw count restores it exactly.
 */
public final class DataMixer {
    /**
     * Stage 2's default share of text-only samples, 0.7: the DeepSeek-VL paper settles its joint pre-training
     * on about 7 parts language data to 3 parts multimodal data. One widely read summary states the ratio the
     * other way round (7 multimodal to 3 language, X = 0.3); the paper's reading is the default here, and
     * {@code --text-ratio} overrides it.
     */
    public static final double STAGE2_TEXT_RATIO = 0.7;

    private static final long STREAM = 3;

    private final double textRatio;
    private final long state;

    /** @param textRatio share of text-only draws, in [0, 1] */
    public DataMixer(double textRatio, long seed) {
        if (!(textRatio >= 0 && textRatio <= 1)) {
            throw new IllegalArgumentException("text ratio " + textRatio + " is outside [0, 1]");
        }
        this.textRatio = textRatio;
        this.state = SplitMix.state(seed, STREAM, 0);
    }

    public double textRatio() {
        return textRatio;
    }

    /** Whether draw d (d = 0, 1, ... over both sources) takes a text-only sample. */
    public boolean takesText(long draw) {
        return SplitMix.uniform(state, draw) < textRatio;
    }
}
