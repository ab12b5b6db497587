package ai.vl4j.train;

/**
 * Where the time of training steps goes, phase by phase (instrumentation only: it changes nothing that is computed).
 * {@link Trainer#timeWith} and {@link Objective#timeWith} add the wall-clock nanoseconds of each phase, summed over
 * the samples of a step; {@code vl4j bench --train} reads them per step and {@link #reset()}s.
 * <pre>
 *   VISION           the vision tower's forward pass (with its tape when the tower trains)
 *   ALIGNER          the aligner's forward pass, and writing its rows over the image positions of the embeddings
 *   LLM_FORWARD      the language model's training pass (embedding lookup, every layer, the final norm)
 *   LOSS             lm_head at the supervised rows, the cross-entropy, and their gradient back to the hidden rows
 *   LLM_BACKWARD     the language model's backward pass (layers recomputed first with activation checkpointing)
 *   INPUT_BACKWARD   the aligner's and the tower's backward passes, and the token embedding's
 *   OPTIMIZER        zeroing gradients, the global norm and clipping, AdamW
 * </pre>
 */
public final class StepTimes {
    /** The phases of a step, in the order they run. */
    public enum Phase {
        VISION, ALIGNER, LLM_FORWARD, LOSS, LLM_BACKWARD, INPUT_BACKWARD, OPTIMIZER;

        /** Its name in reports: lower case ({@code llm_forward}). */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final long[] nanos = new long[Phase.values().length];

    /** Adds the time since t0 (a {@link System#nanoTime()}) to phase; returns now, the next phase's t0. */
    long since(Phase phase, long t0) {
        long now = System.nanoTime();
        nanos[phase.ordinal()] += now - t0;
        return now;
    }

    /** Seconds spent in phase since the last reset. */
    public double seconds(Phase phase) {
        return nanos[phase.ordinal()] / 1e9;
    }

    /** Forward: the vision tower, the aligner and the language model (the loss is its own phase). */
    public double forwardSeconds() {
        return seconds(Phase.VISION) + seconds(Phase.ALIGNER) + seconds(Phase.LLM_FORWARD);
    }

    /** Backward: the language model's pass and the input side's (aligner, tower, embedding). */
    public double backwardSeconds() {
        return seconds(Phase.LLM_BACKWARD) + seconds(Phase.INPUT_BACKWARD);
    }

    public void reset() {
        java.util.Arrays.fill(nanos, 0);
    }
}
