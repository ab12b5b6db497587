package ai.vl4j.server;

import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.vlm.Prompt;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One chat completion on its way between the HTTP handler (or a batch job), which waits on its events, and the
 * decode thread, which produces them. The handler may cancel it (the client went away); the decode thread then
 * drops the sequence at its next step.
 */
public final class Completion {
    /** What the decode thread reports, in order: Text pieces, then one Done or one Failed. */
    public sealed interface Event permits Text, Done, Failed {
    }

    public record Text(String text) implements Event {
    }

    /**
     * @param finishReason "stop" (end of sentence or a stop string) or "length"
     * @param cachedTokens prompt tokens taken from an earlier request's KV cache instead of being run
     * @param tokenIds     the generated ids, without the final end-of-sentence id
     */
    public record Done(String finishReason, int promptTokens, int cachedTokens, int completionTokens, String text,
                       int[] tokenIds) implements Event {
    }

    public record Failed(ApiException error) implements Event {
        /** The cause in one line. */
        public String message() {
            return error.getMessage();
        }
    }

    final String id;
    final Prompt prompt;
    final SamplingOptions options;      // maxNewTokens is the budget, already clipped to the context
    final List<String> stop;
    final long createdNanos = System.nanoTime();
    volatile long firstTokenNanos;
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private volatile boolean cancelled;

    /** @param options maxNewTokens is the budget: the caller clips it to the context left after the prompt */
    public Completion(String id, Prompt prompt, SamplingOptions options, List<String> stop) {
        this.id = id;
        this.prompt = prompt;
        this.options = options;
        this.stop = stop;
    }

    void emit(Event e) {
        events.add(e);
    }

    /** The next event, or null after the timeout. */
    public Event next(long timeout, TimeUnit unit) throws InterruptedException {
        return events.poll(timeout, unit);
    }

    /** The client is gone: stop generating for it. */
    public void cancel() {
        cancelled = true;
    }

    public boolean cancelled() {
        return cancelled;
    }
}
