package ai.vl4j.server;

import ai.vl4j.generate.Decoding;
import ai.vl4j.llm.KvCache;
import ai.vl4j.text.StreamDecoder;
import ai.vl4j.vlm.ChatState;

/**
 * The decode-side state of one completion: its KV cache, its {@link Decoding} (the token choice shared with
 * {@code Generator.run}) and its stop-string matcher, advanced one token per batched step so a scheduler can
 * interleave many sequences: stop at end-of-sentence, a stop string or the budget, otherwise hand out the text
 * and keep the token to feed at the next step.
 */
final class Sequence {
    final Completion job;
    final KvCache cache;
    final ChatState state;          // owns cache; kept for a follow-up request when this one ends
    private final int reusedTokens; // prompt tokens that came from a kept cache
    private final Decoding decoding;
    private final StopMatcher stop;
    private final StringBuilder text = new StringBuilder();

    Sequence(Completion job, KvCache cache, ChatState state, int reusedTokens, StreamDecoder decoder, int eosId) {
        this.job = job;
        this.cache = cache;
        this.state = state;
        this.reusedTokens = reusedTokens;
        this.decoding = new Decoding(job.options, eosId, job.options.maxNewTokens(), decoder);
        this.stop = new StopMatcher(job.stop);
    }

    /** The token to feed at the next step (the last one generated). */
    int lastToken() {
        return decoding.lastToken();
    }

    int[] generatedIds() {
        return decoding.tokenIds();
    }

    /**
     * Chooses the next token from the logits of the position after the sequence (modified in place). Returns true
     * when the sequence is finished; its Done event has then been emitted.
     */
    boolean advance(float[] logits) {
        String piece = decoding.next(logits);
        if (job.firstTokenNanos == 0) {
            job.firstTokenNanos = decoding.firstTokenNanos();
        }
        if (piece == null) {
            return finish("stop");
        }
        emit(stop.push(piece));
        if (stop.stopped()) {
            return finish("stop");
        }
        if (decoding.done()) {
            return finish("length");
        }
        return false;
    }

    private boolean finish(String reason) {
        if (!stop.stopped()) {
            emit(stop.push(decoding.tail()));       // an incomplete UTF-8 tail, as Generator.run hands it out
            if (stop.stopped()) {
                reason = "stop";
            } else {
                emit(stop.flush());
            }
        }
        job.emit(new Completion.Done(reason, job.prompt.inputIds().length, reusedTokens, decoding.count(), text.toString(),
                decoding.tokenIds()));
        return true;
    }

    private void emit(String piece) {
        if (!piece.isEmpty()) {
            text.append(piece);
            job.emit(new Completion.Text(piece));
        }
    }
}
