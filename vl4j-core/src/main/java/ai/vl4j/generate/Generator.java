package ai.vl4j.generate;

import ai.vl4j.text.StreamDecoder;
import java.util.Arrays;

/**
 * The decoding loop, independent of any model: sample from the current logits, stop at the end-of-sentence id
 * or when the budget is spent, stream the text, feed the token back for the next logits.
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
        Sampler sampler = new Sampler(options);
        StringBuilder text = new StringBuilder();
        int[] generated = new int[budget];
        int count = 0;
        FinishReason reason = FinishReason.LENGTH;
        long firstToken = System.nanoTime();
        while (count < budget) {
            int next = sampler.next(logits, generated, count);
            if (count == 0) {
                firstToken = System.nanoTime();
            }
            if (next == eosId) {
                reason = FinishReason.STOP;
                break;
            }
            generated[count++] = next;
            String piece = decoder.next(next);
            text.append(piece);
            listener.onToken(next, piece);
            if (listener.stopRequested()) {
                reason = FinishReason.CANCELLED;
                break;
            }
            if (count < budget) {
                logits = step.next(next);
            }
        }
        String tail = decoder.finish();
        if (!tail.isEmpty()) {
            text.append(tail);
            listener.onToken(-1, tail);
        }
        return new Outcome(Arrays.copyOf(generated, count), text.toString(), reason, firstToken);
    }
}
