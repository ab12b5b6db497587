package ai.vl4j.cli;

import ai.vl4j.bench.PipelineBenchmark;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.server.Completion;
import ai.vl4j.server.LocalEngine;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.text.ChatTemplate;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code vl4j batch}: every request of a folder of images or a JSONL file answered into a results file, through
 * the server's continuous batching ({@link LocalEngine}: up to --max-batch sequences decode together, a new
 * request's images are encoded and its prompt run between their steps). Requests are prepared (images decoded,
 * prompts tokenized) on virtual threads a batch ahead of the scheduler, each waits for its answer on its own
 * virtual thread and appends its result line as soon as it is done. A request that fails is recorded as its line's
 * error; only a problem with the job as a whole (flags, an unreadable input, a results file of another kind) ends it.
 */
@Command(name = "batch", description = "Answer every image of a folder, or every request of a JSONL file, into a results file.",
        sortOptions = false)
final class BatchCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Option(names = {"-i", "--input"}, required = true, paramLabel = "DIR|FILE.jsonl",
            description = "A folder of images (searched recursively; the id is the path inside it) or a JSONL file of requests.")
    Path input;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT",
            description = "The question for every image of a folder, and for JSONL requests that have neither prompt nor messages "
                    + "(default for a folder: \"" + DEFAULT_PROMPT + "\").")
    String prompt;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE.jsonl",
            description = "Results, one JSON line per request, appended as each finishes; ids already there are skipped.")
    Path out;

    @Option(names = "--max-batch", paramLabel = "N", defaultValue = "8", description = "Sequences decoded together (default ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--shard", paramLabel = "I/N", description = "Take only every N-th request, starting with the I-th (1 <= I <= N): "
            + "N machines with the same input and shards 1/N ... N/N split it without overlap.")
    String shard;

    @Mixin
    SamplingFlags sampling;

    @Option(names = "--system", paramLabel = "TEXT", description = "System prompt (default: the DeepSeek-VL one).")
    String system;

    @Mixin
    ComputeOptions compute;

    @Option(names = "--json", description = "Print the summary as one JSON object on stdout.")
    boolean json;

    static final String DEFAULT_PROMPT = "Describe this image.";

    @Override
    public Integer call() throws Exception {
        if (maxBatch < 1) {
            throw new IllegalArgumentException("--max-batch must be at least 1, got " + maxBatch);
        }
        BatchInput.Shard part = BatchInput.Shard.parse(shard);
        SamplingOptions defaults = sampling.resolve(SamplingOptions.GREEDY);
        QuantType quantType = compute.apply();
        BatchInput requests = BatchInput.open(input);
        PrintStream err = Streams.err();
        try (BatchResults results = BatchResults.open(out)) {
            if (results.cutBytes() > 0 && !Streams.quiet()) {
                err.println("vl4j: " + out + ": removed a cut-off last line (" + results.cutBytes() + " bytes); its request runs again");
            }
            Plan plan = plan(requests, part, results);
            if (plan.todo == 0) {
                summary(plan, new Tally(), 0, 0);
                return 0;
            }
            long t0 = System.nanoTime();
            try (DeepSeekVl vl = model.load(quantType, compute.kvPrecision())) {
                double loadSeconds = (System.nanoTime() - t0) / 1e9;
                LocalEngine engine = new LocalEngine(vl, maxBatch, maxBatch, 0);
                BatchRequests prepare = new BatchRequests(engine, requests.base(), prompt != null ? prompt
                        : requests.folder() ? DEFAULT_PROMPT : null, system == null ? ChatTemplate.DEFAULT_SYSTEM_PROMPT : system, defaults);
                Tally tally;
                try (engine) {
                    tally = run(engine, requests, part, results, prepare, plan);
                }
                summary(plan, tally, loadSeconds, tally.seconds);
            }
        }
        return 0;
    }

    /** What the job has to do: the requests of its shard, those done before, duplicate ids refused up front. */
    record Plan(int inShard, int done, int todo, int skippedFiles) {
    }

    private static Plan plan(BatchInput requests, BatchInput.Shard part, BatchResults results) {
        Map<String, String> seen = new HashMap<>();
        int[] counts = new int[2];                       // in the shard, finished before
        requests.forEach(r -> {
            String before = seen.putIfAbsent(r.id(), r.where());
            if (before != null) {
                throw new ai.vl4j.InvalidInputException(r.where() + ": id \"" + r.id() + "\" is already used by " + before);
            }
            if (part.takes(r.position())) {
                counts[0]++;
                if (results.finished().contains(r.id())) {
                    counts[1]++;
                }
            }
        });
        return new Plan(counts[0], counts[1], counts[0] - counts[1], requests.skippedFiles());
    }

    /** Counts of this run, added to by the request threads. */
    static final class Tally {
        final AtomicInteger answered = new AtomicInteger();
        final AtomicInteger failed = new AtomicInteger();
        final AtomicLong promptTokens = new AtomicLong();
        final AtomicLong completionTokens = new AtomicLong();
        double seconds;
    }

    private Tally run(LocalEngine engine, BatchInput requests, BatchInput.Shard part, BatchResults results, BatchRequests prepare,
                      Plan plan) throws InterruptedException {
        // a batch decoding and as many more prepared and waiting, so the next prefill never waits for an image to decode
        int ahead = maxBatch;
        Semaphore slots = new Semaphore(maxBatch + ahead);
        Tally tally = new Tally();
        ProgressBar bar = new ProgressBar(Streams.err(), "answers");
        String label = plan.done > 0 ? "requests (" + plan.done + " done before)" : "requests";
        bar.update(label, 0, plan.todo);
        long start = System.nanoTime();
        AtomicReference<RuntimeException> fatal = new AtomicReference<>();
        requests.forEach(r -> {
            if (!part.takes(r.position()) || results.finished().contains(r.id()) || fatal.get() != null) {
                return;
            }
            slots.acquireUninterruptibly();
            Thread.ofVirtual().name("vl4j-batch-" + r.id()).start(() -> {
                try {
                    Map<String, Object> line = answer(engine, prepare, r);
                    results.append(line);
                    if (line.get("error") == null) {
                        tally.answered.incrementAndGet();
                        tally.promptTokens.addAndGet(((Number) line.get("prompt_tokens")).longValue());
                        tally.completionTokens.addAndGet(((Number) line.get("completion_tokens")).longValue());
                    } else {
                        tally.failed.incrementAndGet();
                        bar.note("vl4j: " + r.id() + ": " + line.get("error"));
                    }
                    bar.update(label, tally.answered.get() + tally.failed.get(), plan.todo);
                } catch (RuntimeException e) {
                    fatal.compareAndSet(null, e);    // the results file cannot be written: the job ends
                } finally {
                    slots.release();
                }
            });
        });
        slots.acquire(maxBatch + ahead);                 // every request answered
        if (fatal.get() != null) {
            throw fatal.get();
        }
        tally.seconds = (System.nanoTime() - start) / 1e9;
        bar.done();
        return tally;
    }

    /** One request through the scheduler: its result line (an answer, or the error that stopped it). */
    private static Map<String, Object> answer(LocalEngine engine, BatchRequests prepare, BatchInput.Request r) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("id", r.id());
        Completion job;
        try {
            job = prepare.prepare(r);
        } catch (RuntimeException e) {
            return failed(line, e instanceof ai.vl4j.Vl4jException || e instanceof IllegalArgumentException
                    ? e.getMessage() : Main.oneLine(e));
        }
        try {
            engine.submit(job);
            Completion.Event e = LocalEngine.result(job);
            if (e instanceof Completion.Failed f) {
                return failed(line, f.message());
            }
            Completion.Done done = (Completion.Done) e;
            line.put("text", done.text());
            line.put("completion_token_ids", done.tokenIds());
            line.put("prompt_tokens", done.promptTokens());
            line.put("completion_tokens", done.completionTokens());
            line.put("finish_reason", done.finishReason());
            line.put("error", null);
            return line;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            job.cancel();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static Map<String, Object> failed(Map<String, Object> line, String error) {
        line.put("text", null);
        line.put("completion_token_ids", null);
        line.put("prompt_tokens", null);
        line.put("completion_tokens", null);
        line.put("finish_reason", null);
        line.put("error", error);
        return line;
    }

    private void summary(Plan plan, Tally tally, double loadSeconds, double seconds) throws IOException {
        int answered = tally.answered.get();
        int failed = tally.failed.get();
        long tokens = tally.completionTokens.get();
        double answersPerSecond = seconds > 0 ? (answered + failed) / seconds : 0;
        double tokensPerSecond = seconds > 0 ? tokens / seconds : 0;
        long peakRss = Math.max(0, PipelineBenchmark.peakRss());       // 0 where it cannot be read
        if (json) {
            Map<String, Object> obj = new LinkedHashMap<>();
            obj.put("requests", plan.inShard);
            obj.put("done_before", plan.done);
            obj.put("answered", answered);
            obj.put("failed", failed);
            obj.put("skipped_files", plan.skippedFiles);
            obj.put("prompt_tokens", tally.promptTokens.get());
            obj.put("completion_tokens", tokens);
            obj.put("load_s", loadSeconds);
            obj.put("seconds", seconds);
            obj.put("answers_per_s", answersPerSecond);
            obj.put("tok_s", tokensPerSecond);
            obj.put("peak_rss_bytes", peakRss);
            obj.put("out", out.toString());
            Streams.out().println(new ObjectMapper().writeValueAsString(obj));
        }
        if (Streams.quiet()) {
            return;
        }
        PrintStream err = Streams.err();
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%d requests%s: %d answered, %d failed", plan.inShard,
                shard == null ? "" : " in shard " + shard, answered, failed));
        if (plan.done > 0) {
            s.append(", ").append(plan.done).append(" done before");
        }
        if (plan.skippedFiles > 0) {
            s.append(" (").append(plan.skippedFiles).append(" files skipped: not images by their extension)");
        }
        err.println(s);
        if (answered + failed > 0) {
            err.printf(Locale.ROOT, "%d tokens in %.1f s: %.2f tok/s, %.3f answers/s (model loaded in %.1f s)%s%n", tokens, seconds,
                    tokensPerSecond, answersPerSecond, loadSeconds,
                    peakRss > 0 ? String.format(Locale.ROOT, "; peak RSS %.2f GB", peakRss / 1e9) : "");
        }
        if (failed > 0) {
            err.println(failed + " failed: their lines in " + out + " have an \"error\"");
        }
        if (plan.todo == 0) {
            err.println("nothing to do: every request" + (shard == null ? "" : " of this shard") + " is in " + out);
        }
    }
}
