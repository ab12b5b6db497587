package ai.vl4j.generate;

import ai.vl4j.text.StreamDecoder;

/**
 * The decoding loop of one sequence, independent of any model: {@link Decoding} chooses each token, the loop
 * streams its text, asks the listener whether to stop, and feeds the token back for the next logits.
 */
public final class Generator {

    /** Feeds one token to the model (appending it to the sequence) and returns the logits of the next position. */
    @FunctionalInterface
    public interface Step {
        float[] next(int tokenId);
    }

    /**
     * @param tokenIds        generated ids, the end-of-sentence id excluded
     * @param text            their text, as streamed
     * @param finishReason    STOP at end-of-sentence, LENGTH when the budget ran out, CANCELLED when the listener
     *                        asked to stop
     * @param firstTokenNanos System.nanoTime() when the first token was chosen
     */
    public record Outcome(int[] tokenIds, String text, FinishReason finishReason, long firstTokenNanos) {
    }

    private Generator() {
    }

    /**
     * @param logits  logits of the position after the prompt
     * @param budget  most tokens to generate
     */
    public static Outcome run(float[] logits, Step step, int eosId, int budget, SamplingOptions options,
                              StreamDecoder decoder, TokenListener listener) {
        Decoding decoding = new Decoding(options, eosId, budget, decoder);
        StringBuilder text = new StringBuilder();
        FinishReason reason = FinishReason.LENGTH;
        long start = System.nanoTime();
        while (!decoding.done()) {
            String piece = decoding.next(logits);
            if (piece == null) {
                break;                                   // end of sentence
            }
            text.append(piece);
            listener.onToken(decoding.lastToken(), piece);
            if (listener.stopRequested()) {
                reason = FinishReason.CANCELLED;
                break;
            }
            if (!decoding.done()) {
                logits = step.next(decoding.lastToken());
            }
        }
        if (reason != FinishReason.CANCELLED) {
            reason = decoding.finishReason();
        }
        String tail = decoding.tail();
        if (!tail.isEmpty()) {
            text.append(tail);
            listener.onToken(-1, tail);
        }
        long firstToken = decoding.firstTokenNanos() == 0 ? start : decoding.firstTokenNanos();
        return new Outcome(decoding.tokenIds(), text.toString(), reason, firstToken);
    }
}
