package ai.vl4j.train.data;

import java.util.List;

/**
 * B samples for one optimizer step, and the loader's cursor after them (save it with a checkpoint taken after
 * this step, so a resumed run draws the next batch).
 */
public record Batch(List<TrainingSample> samples, DataCursor cursor) {
    public Batch {
        samples = List.copyOf(samples);
    }

    public int size() {
        return samples.size();
    }

    /**
     * The batch's N: supervised positions over all samples, the one count the loss divides by (fixture README
     * §4), so padding, packing or gradient accumulation cannot change it.
     */
    public long nSupervised() {
        long n = 0;
        for (TrainingSample s : samples) {
            n += s.nSupervised();
        }
        return n;
    }

    /** Total tokens of the batch (images at numImageTokens each). */
    public long tokens() {
        long n = 0;
        for (TrainingSample s : samples) {
            n += s.length();
        }
        return n;
    }
}
