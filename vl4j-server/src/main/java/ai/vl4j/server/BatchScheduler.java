package ai.vl4j.server;

import ai.vl4j.InvalidInputException;
import ai.vl4j.Vl4jException;
import ai.vl4j.llm.KvCache;
import ai.vl4j.llm.LlamaModel;
import ai.vl4j.generate.TokenListener;
import ai.vl4j.vlm.ChatState;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.vlm.PrefillRun;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Continuous batching on one decode thread. Each turn of its loop:
 * <ol>
 *   <li>drops sequences whose client went away (their KV cache is freed with them);</li>
 *   <li>admits a waiting request when a batch slot is free and none is being prefilled: its KV cache (a kept
 *       one when it continues an earlier conversation, see {@link PrefixCache}) and its images through the
 *       vision tower and aligner;</li>
 *   <li>runs the admitted prompt into its cache: all at once when nothing else is decoding, else
 *       {@link #PREFILL_PIECE} rows per turn, so the streams already answering get a token between pieces instead
 *       of waiting for the whole prefill; when the prompt is in, its first token, and it joins the batch;</li>
 *   <li>advances every active sequence by one token in one {@link LlamaModel#forwardBatch} step: the weights
 *       are read once for the whole batch, attention stays per sequence; each row is sampled with the
 *       sequence's own sampler, and a finished sequence leaves the batch before the next step.</li>
 * </ol>
 * Admission is bounded: at most maxBatch sequences decode and maxQueue more wait; {@link #submit} refuses
 * beyond that, which the HTTP layer answers with 429.
 *
 * <p>A sequence's logits are the bits it gets decoded alone, whatever else is in the batch: the streaming kernels
 * sum every (row, sequence) in one order for any batch size ({@link LlamaModel#forwardBatch}), so greedy answers
 * equal {@code vl4j run}'s.
 */
public final class BatchScheduler implements AutoCloseable {
    private final DeepSeekVl vl;
    private final LlamaModel llm;
    private final int maxBatch;
    private final int capacity;                                   // maxBatch + maxQueue
    private final LinkedBlockingQueue<Completion> waiting = new LinkedBlockingQueue<>();
    private final AtomicInteger inFlight = new AtomicInteger();   // waiting + being prefilled + decoding
    private final Thread thread;
    private final List<Sequence> active = new ArrayList<>();      // decode thread only
    private final PrefixCache prefixes;                           // decode thread only
    private float[] logits = new float[0];                        // decode thread only: a step's logits [b, V]
    private float[] row = new float[0];                           // decode thread only: one sequence's logits
    private PrefillRun prefilling;                                // the request being prefilled, piece by piece
    private Completion prefillJob;
    private ChatState prefillState;
    private volatile boolean running = true;
    private volatile int activeCount;
    final LongAdder steps = new LongAdder();
    final LongAdder stepRows = new LongAdder();
    final LongAdder cancelled = new LongAdder();
    final LongAdder prefillPieces = new LongAdder();
    /** Prompt rows run per turn while other requests are decoding (≈ 1 s on the 1.3B model with 2 threads). */
    static final int PREFILL_PIECE = 128;

    /** @param prefixCacheBytes memory for the KV caches kept for follow-up requests (0: none kept) */
    public BatchScheduler(DeepSeekVl vl, int maxBatch, int maxQueue, long prefixCacheBytes) {
        this.vl = vl;
        this.prefixes = new PrefixCache(prefixCacheBytes, vl.config().chatProcessor().numImageTokens());
        this.llm = vl.languageModel();
        this.maxBatch = maxBatch;
        this.capacity = maxBatch + maxQueue;
        this.thread = new Thread(this::loop, "vl4j-decode");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** Queues a completion; false when maxBatch are decoding and maxQueue already wait. */
    public boolean submit(Completion job) {
        if (!running) {
            return false;
        }
        if (inFlight.incrementAndGet() > capacity) {
            inFlight.decrementAndGet();
            return false;
        }
        waiting.add(job);
        return true;
    }

    /** True when {@link #submit} would refuse now. */
    boolean full() {
        return inFlight.get() >= capacity;
    }

    /** Requests waiting for a batch slot. */
    public int queued() {
        return waiting.size();
    }

    /** Sequences in the batch now. */
    public int active() {
        return activeCount;
    }

    public int maxBatch() {
        return maxBatch;
    }

    /** Prompt tokens taken from kept caches instead of being run (written by the decode thread). */
    long reusedPromptTokens() {
        return prefixes.reusedTokens();
    }

    private void loop() {
        while (running) {
            try {
                turn();
            } catch (InterruptedException e) {
                break;
            } catch (RuntimeException | OutOfMemoryError e) {
                if (!running) {
                    break;                  // close() interrupted a step: it answers what was in flight (503)
                }
                // a failure inside a batched step: fail what was in flight, keep serving the next requests
                for (Sequence s : active) {
                    s.job.emit(new Completion.Failed(ApiException.internal("generation failed: " + e)));
                    release(s.job);
                }
                active.clear();
                activeCount = 0;
            }
        }
    }

    private void turn() throws InterruptedException {
        active.removeIf(s -> {
            if (s.job.cancelled()) {
                cancelled.increment();
                release(s.job);
                return true;
            }
            return false;
        });
        if (prefilling != null && prefillJob.cancelled()) {
            cancelled.increment();
            release(prefillJob);
            clearPrefill();
        }
        if (prefilling == null && active.size() < maxBatch) {
            Completion next = active.isEmpty() ? waiting.poll(200, TimeUnit.MILLISECONDS) : waiting.poll();
            if (next != null) {
                begin(next);
            }
        }
        if (prefilling != null) {
            // alone, the whole prompt at once (fastest); with others answering, a piece per turn so they keep moving
            continuePrefill(active.isEmpty() ? Integer.MAX_VALUE : PREFILL_PIECE);
        }
        activeCount = active.size();
        if (active.isEmpty()) {
            return;
        }
        step();
    }

    /** Starts a request's prefill: its cache (a kept one when it continues a conversation) and its images. */
    private void begin(Completion job) {
        if (job.cancelled()) {
            cancelled.increment();
            release(job);
            return;
        }
        ChatState state = prefixes.take(job.prompt);
        try {
            prefilling = vl.startPrefill(job.prompt, job.options.maxNewTokens(), state, TokenListener.NONE);
            prefillJob = job;
            prefillState = state;
        } catch (RuntimeException | OutOfMemoryError e) {
            fail(job, e);
        }
    }

    /** Runs the next piece of the prefill; when it completes, the request's first token and a place in the batch. */
    private void continuePrefill(int rows) {
        Completion job = prefillJob;
        try {
            prefillPieces.increment();
            if (!prefilling.step(rows)) {
                return;
            }
            DeepSeekVl.Prefilled p = prefilling.result();
            ChatState state = prefillState;
            clearPrefill();
            prefixes.countReused(p.reused());
            Sequence s = new Sequence(job, p.cache(), state, p.reused(), vl.tokenizer().streamDecoder(true), vl.tokenizer().eosId());
            if (s.advance(p.logits())) {
                retire(s);
            } else {
                active.add(s);
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            clearPrefill();
            fail(job, e);
        }
    }

    private void clearPrefill() {
        prefilling = null;
        prefillJob = null;
        prefillState = null;
    }

    /** A request that could not be started: the cause in OpenAI's error shape, its slot freed. */
    private void fail(Completion job, Throwable e) {
        ApiException error;
        if (e instanceof InvalidInputException || e instanceof IllegalArgumentException) {
            error = ApiException.invalid(e.getMessage(), "messages");
        } else if (e instanceof OutOfMemoryError) {
            prefixes.clear();   // the kept caches are the memory to give back first
            error = ApiException.unavailable("not enough memory for this request's KV cache now; retry later or ask for fewer max_tokens");
        } else if (e instanceof Vl4jException) {
            error = ApiException.internal(e.getMessage());
        } else {
            error = ApiException.internal("generation failed: " + e);
        }
        job.emit(new Completion.Failed(error));
        release(job);
    }

    /** One token for every active sequence, in one pass over the weights. */
    private void step() {
        int b = active.size();
        int[] tokens = new int[b];
        KvCache[] caches = new KvCache[b];
        for (int i = 0; i < b; i++) {
            tokens[i] = active.get(i).lastToken();
            caches[i] = active.get(i).cache;
        }
        int vocab = llm.config().vocabSize();
        if (logits.length < b * vocab) {
            logits = new float[b * vocab];
        }
        llm.logitsOfRows(llm.forwardBatch(llm.embed(tokens), caches), b, logits);
        steps.increment();
        stepRows.add(b);
        if (row.length < vocab) {
            row = new float[vocab];
        }
        List<Sequence> finished = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            System.arraycopy(logits, i * vocab, row, 0, vocab);
            Sequence s = active.get(i);
            if (s.advance(row)) {
                finished.add(s);
            }
        }
        for (Sequence s : finished) {
            active.remove(s);
            retire(s);
        }
        activeCount = active.size();
    }

    /** A finished sequence: its cache is kept for a follow-up request, its slot freed. */
    private void retire(Sequence s) {
        s.state.remember(s.cache, s.job.prompt, s.generatedIds());
        prefixes.giveBack(s.state);
        release(s.job);
    }

    private void release(Completion job) {
        inFlight.decrementAndGet();
    }

    /** Stops the decode thread; requests still waiting or decoding get a 503. */
    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        ApiException shutdown = ApiException.unavailable("the server is shutting down");
        for (Sequence s : active) {
            s.job.emit(new Completion.Failed(shutdown));
        }
        if (prefillJob != null) {
            prefillJob.emit(new Completion.Failed(shutdown));
            clearPrefill();
        }
        active.clear();
        Completion c;
        while ((c = waiting.poll()) != null) {
            c.emit(new Completion.Failed(shutdown));
        }
    }
}
