package ai.vl4j.server;

import ai.vl4j.generate.Sampler;
import ai.vl4j.llm.KvCache;
import ai.vl4j.text.StreamDecoder;
import ai.vl4j.vlm.ChatState;

/**
 * The decode-side state of one completion: its KV cache, sampler, UTF-8-safe text decoder, stop-string matcher
 * and the ids generated so far. The token loop is {@code Generator.run}'s, cut into one call per step so a
 * scheduler can interleave many sequences: sample from this step's logits, stop at end-of-sentence, a stop
 * string or the budget, otherwise hand out the text and keep the token to feed at the next step.
 */
final class Sequence {
    final Completion job;
    final KvCache cache;
    final ChatState state;          // owns cache; kept for a follow-up request when this one ends
    private final int reusedTokens; // prompt tokens that came from a kept cache
    private final Sampler sampler;
    private final StreamDecoder decoder;
    private final StopMatcher stop;
    private final int eosId;
    private final int[] generated;  // [budget]
    private int count;
    private final StringBuilder text = new StringBuilder();

    Sequence(Completion job, KvCache cache, ChatState state, int reusedTokens, StreamDecoder decoder, int eosId) {
        this.job = job;
        this.cache = cache;
        this.state = state;
        this.reusedTokens = reusedTokens;
        this.sampler = new Sampler(job.options);
        this.decoder = decoder;
        this.stop = new StopMatcher(job.stop);
        this.eosId = eosId;
        this.generated = new int[job.options.maxNewTokens()];
    }

    /** The token to feed at the next step (the last one generated). */
    int lastToken() {
        return generated[count - 1];
    }

    int[] generatedIds() {
        return java.util.Arrays.copyOf(generated, count);
    }

    /**
     * Chooses the next token from the logits of the position after the sequence (modified in place). Returns true
     * when the sequence is finished; its Done event has then been emitted.
     */
    boolean advance(float[] logits) {
        int next = sampler.next(logits, generated, count);
        if (count == 0) {
            job.firstTokenNanos = System.nanoTime();
        }
        if (next == eosId) {
            return finish("stop");
        }
        generated[count++] = next;
        emit(stop.push(decoder.next(next)));
        if (stop.stopped()) {
            return finish("stop");
        }
        if (count >= generated.length) {
            return finish("length");
        }
        return false;
    }

    private boolean finish(String reason) {
        if (!stop.stopped()) {
            emit(stop.push(decoder.finish()));      // an incomplete UTF-8 tail, as Generator.run hands it out
            if (stop.stopped()) {
                reason = "stop";
            } else {
                emit(stop.flush());
            }
        }
        job.emit(new Completion.Done(reason, job.prompt.inputIds().length, reusedTokens, count, text.toString()));
        return true;
    }

    private void emit(String piece) {
        if (!piece.isEmpty()) {
            text.append(piece);
            job.emit(new Completion.Text(piece));
        }
    }
}
