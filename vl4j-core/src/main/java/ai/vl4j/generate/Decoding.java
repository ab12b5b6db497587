package ai.vl4j.generate;

import ai.vl4j.text.StreamDecoder;
import java.util.Arrays;

/**
 * One generation's choice of tokens, a token per call: sample from the logits (repetition penalty over the ids
 * generated so far), stop at the end-of-sentence id (never kept) or when the budget is spent, and turn each kept
 * token into its UTF-8-safe text piece. {@link Generator#run} loops it for one sequence; a server's scheduler calls
 * it for each sequence of a batched step, so both follow the same rules.
 */
public final class Decoding {
    private final Sampler sampler;
    private final StreamDecoder decoder;
    private final int eosId;
    private final int[] generated;   // [budget]
    private int count;
    private boolean endOfSentence;
    private long firstTokenNanos;

    public Decoding(SamplingOptions options, int eosId, int budget, StreamDecoder decoder) {
        this.sampler = new Sampler(options);
        this.decoder = decoder;
        this.eosId = eosId;
        this.generated = new int[budget];
    }

    /**
     * Chooses the next token from the logits of the position after the sequence (modified in place). Returns the
     * text it completes (possibly empty, inside a UTF-8 character), or null when it was the end-of-sentence id.
     */
    public String next(float[] logits) {
        int id = sampler.next(logits, generated, count);
        if (count == 0) {
            firstTokenNanos = System.nanoTime();
        }
        if (id == eosId) {
            endOfSentence = true;
            return null;
        }
        generated[count++] = id;
        return decoder.next(id);
    }

    /** True once the end-of-sentence id came or the budget is spent. */
    public boolean done() {
        return endOfSentence || count >= generated.length;
    }

    /** STOP after the end-of-sentence id, else LENGTH (a caller that stopped early says so itself). */
    public FinishReason finishReason() {
        return endOfSentence ? FinishReason.STOP : FinishReason.LENGTH;
    }

    /** The text of an incomplete UTF-8 sequence left at the end ("" when none): the last piece. */
    public String tail() {
        return decoder.finish();
    }

    /** The last kept token: the one to feed to the model for the next logits. */
    public int lastToken() {
        return generated[count - 1];
    }

    /** The kept tokens (the end-of-sentence id excluded). */
    public int[] tokenIds() {
        return Arrays.copyOf(generated, count);
    }

    public int count() {
        return count;
    }

    /** System.nanoTime() when the first token was chosen (0 before). */
    public long firstTokenNanos() {
        return firstTokenNanos;
    }
}
