package ai.vl4j.train.data;

import ai.vl4j.InvalidInputException;
import java.util.ArrayList;
import java.util.List;

/**
 * Draws training samples in a deterministic, seeded order and hands them out in batches.
 *
 * <ul>
 *   <li>Epochs: each is every sample of the data once, in a permutation seeded by (seed, epoch) when
 *       shuffling, in file order when not. Draws run on from one epoch into the next without a break, so a
 *       batch may hold the end of one epoch and the start of the next; {@code --batch-size B --no-shuffle} over
 *       a file of B samples gives the whole file, in order, at every step.</li>
 *   <li>Mixing ({@link #mixed}): with a text-only source, each draw is text-only with the {@link DataMixer}'s
 *       probability; each source keeps its own epochs and permutations.</li>
 *   <li>Resume: {@link #cursor()} (or {@link Batch#cursor()}) saves the position, {@link #restore} continues
 *       from it exactly: the same samples in the same order as an uninterrupted run.</li>
 * </ul>
 * Not thread-safe (one loader per training loop); the samples it returns are.
 */
public final class DataLoader {
    private static final long MAIN_STREAM = 1;
    private static final long TEXT_STREAM = 2;

    private final TrainingData data;
    private final TrainingData textData;        // null without mixing
    private final DataMixer mixer;              // null without mixing
    private final int batchSize;
    private final boolean shuffle;
    private final long seed;
    private final EpochOrder order;
    private final EpochOrder textOrder;
    private long drawn;
    private long textDrawn;

    private DataLoader(TrainingData data, TrainingData textData, double textRatio, int batchSize, boolean shuffle, long seed) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        }
        this.data = data;
        this.textData = textData;
        this.mixer = textData == null ? null : new DataMixer(textRatio, seed);
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.seed = seed;
        this.order = new EpochOrder(data.size(), shuffle, seed, MAIN_STREAM);
        this.textOrder = textData == null ? null : new EpochOrder(textData.size(), shuffle, seed, TEXT_STREAM);
    }

    /** Batches of one data set. */
    public static DataLoader of(TrainingData data, int batchSize, boolean shuffle, long seed) {
        return new DataLoader(data, null, 0, batchSize, shuffle, seed);
    }

    /**
     * Batches mixing data (multimodal) with textData, each draw text-only with probability textRatio
     * ({@link DataMixer#STAGE2_TEXT_RATIO} is stage 2's default).
     *
     * @throws InvalidInputException if a textData sample has images (naming its file and line)
     */
    public static DataLoader mixed(TrainingData data, TrainingData textData, double textRatio, int batchSize, boolean shuffle, long seed) {
        for (int i = 0; i < textData.size(); i++) {
            if (textData.hasImages(i)) {
                throw new BadSampleException(textData.source(i), "images", "the text-only data holds a sample with images");
            }
        }
        return new DataLoader(data, textData, textRatio, batchSize, shuffle, seed);
    }

    public int batchSize() {
        return batchSize;
    }

    /** The next batch of batchSize samples, with the cursor after it. */
    public Batch nextBatch() {
        List<TrainingSample> samples = new ArrayList<>(batchSize);
        for (int i = 0; i < batchSize; i++) {
            samples.add(next());
        }
        return new Batch(samples, cursor());
    }

    /** The next sample. */
    public TrainingSample next() {
        Pick p = pick();
        return (p.text() ? textData : data).get(p.index());
    }

    /** Which source and sample the next draw takes, advancing the loader (nothing is read). */
    Pick pick() {
        if (mixer != null && mixer.takesText(drawn + textDrawn)) {
            return new Pick(true, textOrder.at(textDrawn++));
        }
        return new Pick(false, order.at(drawn++));
    }

    /** A draw: from the text-only source or the main one, and the sample's index there. */
    record Pick(boolean text, int index) {
    }

    /** The position now: what a checkpoint saves. */
    public DataCursor cursor() {
        return new DataCursor(seed, shuffle, mixer == null ? 0 : mixer.textRatio(), data.size(),
                textData == null ? 0 : textData.size(), drawn, textDrawn);
    }

    /**
     * Continues from a saved position. The cursor must come from a loader over the same data with the same
     * seed, shuffling and text ratio (checked: sizes, seed, shuffle, ratio), else an InvalidInputException
     * says what differs.
     */
    public void restore(DataCursor c) {
        DataCursor now = cursor();
        check("seed", c.seed(), now.seed());
        check("shuffle", c.shuffle(), now.shuffle());
        check("text ratio", c.textRatio(), now.textRatio());
        check("number of samples", c.samples(), now.samples());
        check("number of text-only samples", c.textSamples(), now.textSamples());
        if (c.drawn() < 0 || c.textDrawn() < 0 || (textData == null && c.textDrawn() != 0)) {
            throw new InvalidInputException("data cursor: negative or impossible draw counts " + c.drawn() + ", " + c.textDrawn());
        }
        drawn = c.drawn();
        textDrawn = c.textDrawn();
    }

    private static void check(String what, Object saved, Object here) {
        if (!saved.equals(here)) {
            throw new InvalidInputException("data cursor: saved with " + what + " " + saved + " but this run has " + here
                    + " (resume with the same data and data options)");
        }
    }
}
