package ai.vl4j.server;

import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters for {@code GET /metrics} in Prometheus' text exposition format (version 0.0.4), written by hand:
 * requests by endpoint and status, prompt and completion tokens, latency and time-to-first-token histograms,
 * the scheduler's queue depth, batch size and steps, and the Java heap.
 */
final class Metrics {
    /** Histogram bucket upper bounds, seconds. */
    private static final double[] BUCKETS = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();   // "path|status"
    private final LongAdder promptTokens = new LongAdder();
    private final LongAdder completionTokens = new LongAdder();
    private final Histogram latency = new Histogram();
    private final Histogram ttft = new Histogram();

    void request(String path, int status) {
        requests.computeIfAbsent(path + "|" + status, k -> new LongAdder()).increment();
    }

    /** A finished completion: its tokens, total seconds and seconds to its first token (NaN if none). */
    void completion(int prompt, int completion, double seconds, double firstTokenSeconds) {
        promptTokens.add(prompt);
        completionTokens.add(completion);
        latency.observe(seconds);
        if (!Double.isNaN(firstTokenSeconds)) {
            ttft.observe(firstTokenSeconds);
        }
    }

    /** Mean completion latency so far (1 s before any). */
    double averageLatencySeconds() {
        return latency.mean();
    }

    String render(BatchScheduler scheduler) {
        StringBuilder out = new StringBuilder();
        out.append("# HELP vl4j_requests_total HTTP requests answered, by path and status.\n");
        out.append("# TYPE vl4j_requests_total counter\n");
        new TreeMap<>(requests).forEach((key, count) -> {
            int bar = key.lastIndexOf('|');
            out.append("vl4j_requests_total{path=\"").append(key, 0, bar).append("\",status=\"")
                    .append(key.substring(bar + 1)).append("\"} ").append(count.sum()).append('\n');
        });
        counter(out, "vl4j_prompt_tokens_total", "Prompt tokens of finished completions (image tokens included).", promptTokens.sum());
        counter(out, "vl4j_completion_tokens_total", "Generated tokens of finished completions.", completionTokens.sum());
        latency.render(out, "vl4j_request_duration_seconds", "Chat completion latency, from arrival to the last token.");
        ttft.render(out, "vl4j_time_to_first_token_seconds", "Chat completion time from arrival to the first token.");
        gauge(out, "vl4j_queue_depth", "Requests waiting for a batch slot.", scheduler.queued());
        gauge(out, "vl4j_batch_size", "Sequences in the decode batch now.", scheduler.active());
        gauge(out, "vl4j_batch_capacity", "Most sequences decoded together (--max-batch).", scheduler.maxBatch());
        counter(out, "vl4j_prompt_tokens_cached_total", "Prompt tokens taken from a kept KV cache instead of being run.",
                scheduler.reusedPromptTokens());
        counter(out, "vl4j_prefill_pieces_total", "Pieces of prompt prefill run (several per prompt while others decode).",
                scheduler.prefillPieces.sum());
        counter(out, "vl4j_decode_steps_total", "Batched decode steps run.", scheduler.steps.sum());
        counter(out, "vl4j_decode_step_rows_total", "Sequence-steps decoded (the sum of batch sizes over steps).", scheduler.stepRows.sum());
        counter(out, "vl4j_requests_cancelled_total", "Completions dropped because their client disconnected.", scheduler.cancelled.sum());
        var heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        gauge(out, "vl4j_jvm_heap_used_bytes", "Java heap in use (weights are memory-mapped, not on the heap).", heap.getUsed());
        gauge(out, "vl4j_jvm_heap_committed_bytes", "Java heap reserved from the OS.", heap.getCommitted());
        return out.toString();
    }

    private static void counter(StringBuilder out, String name, String help, long value) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(" counter\n");
        out.append(name).append(' ').append(value).append('\n');
    }

    private static void gauge(StringBuilder out, String name, String help, long value) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(" gauge\n");
        out.append(name).append(' ').append(value).append('\n');
    }

    /** Cumulative buckets, sum and count; synchronized, it is touched once per request. */
    private static final class Histogram {
        private final long[] counts = new long[BUCKETS.length];
        private long count;
        private double sum;

        synchronized void observe(double seconds) {
            for (int i = 0; i < BUCKETS.length; i++) {
                if (seconds <= BUCKETS[i]) {
                    counts[i]++;
                }
            }
            count++;
            sum += seconds;
        }

        synchronized double mean() {
            return count == 0 ? 1.0 : sum / count;
        }

        synchronized void render(StringBuilder out, String name, String help) {
            out.append("# HELP ").append(name).append(' ').append(help).append('\n');
            out.append("# TYPE ").append(name).append(" histogram\n");
            for (int i = 0; i < BUCKETS.length; i++) {
                out.append(name).append("_bucket{le=\"").append(BUCKETS[i]).append("\"} ").append(counts[i]).append('\n');
            }
            out.append(name).append("_bucket{le=\"+Inf\"} ").append(count).append('\n');
            out.append(name).append("_sum ").append(sum).append('\n');
            out.append(name).append("_count ").append(count).append('\n');
        }
    }
}
