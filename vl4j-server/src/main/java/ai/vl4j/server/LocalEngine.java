package ai.vl4j.server;

import ai.vl4j.InvalidInputException;
import ai.vl4j.LoadProgress;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.hub.HubClient;
import ai.vl4j.hub.ModelResolver;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.text.Message;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.vlm.Prompt;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A model and its continuous-batching {@link BatchScheduler} inside this JVM, for callers that are not HTTP clients:
 * {@code vl4j batch}, a Spark executor's tasks, LangChain4j. Any number of threads may {@link #submit} completions;
 * up to maxBatch decode together and the rest wait their turn ({@link #submit} blocks instead of refusing, as the
 * server's 429 would). {@link #shared} keeps one engine per model for the whole JVM, so the tasks of a Spark executor
 * share one memory-mapped model and batch with each other instead of each loading its own.
 */
public final class LocalEngine implements AutoCloseable {
    /** What makes two engines the same: the model as given (folder or Hugging Face id) and how it is loaded. */
    public record Key(String model, QuantType quant, DType kvCache, int maxBatch) {
        public Key {
            Objects.requireNonNull(model, "model");
            kvCache = kvCache == null ? DType.F32 : kvCache;
            if (maxBatch < 1) {
                throw new IllegalArgumentException("maxBatch must be at least 1, got " + maxBatch);
            }
        }
    }

    private static final Map<Key, LocalEngine> SHARED = new ConcurrentHashMap<>();

    private final DeepSeekVl vl;
    private final BatchScheduler scheduler;
    private final boolean ownsModel;

    /**
     * An engine over a model the caller loaded (and closes after this engine).
     *
     * @param maxQueue         completions waiting beyond the batch (a batch job keeps the next images decoded)
     * @param prefixCacheBytes memory for the KV caches of finished completions, which a follow-up turn of the same
     *                         conversation continues instead of running its whole prompt again (0: none kept)
     */
    public LocalEngine(DeepSeekVl vl, int maxBatch, int maxQueue, long prefixCacheBytes) {
        this(vl, maxBatch, maxQueue, prefixCacheBytes, false);
    }

    private LocalEngine(DeepSeekVl vl, int maxBatch, int maxQueue, long prefixCacheBytes, boolean ownsModel) {
        this.vl = vl;
        this.scheduler = new BatchScheduler(vl, maxBatch, maxQueue, prefixCacheBytes);
        this.ownsModel = ownsModel;
    }

    /** Resolves the model (a folder, or a Hugging Face id downloaded into the HF cache when absent) and loads it. */
    public static LocalEngine load(Key key) {
        var folder = new ModelResolver(HubClient.fromEnvironment(System.getenv())).resolve(key.model(), (file, done, total) -> { });
        DeepSeekVl vl = DeepSeekVl.load(folder, key.quant(), key.kvCache(), LoadProgress.NONE);
        return new LocalEngine(vl, key.maxBatch(), key.maxBatch(), 0, true);
    }

    /** The JVM's engine for this key, loaded on first use; it lives as long as the JVM (never close it). */
    public static LocalEngine shared(Key key) {
        return SHARED.computeIfAbsent(key, LocalEngine::load);
    }

    public DeepSeekVl model() {
        return vl;
    }

    /**
     * A completion of the conversation, ready to submit: templated and tokenized, its token budget clipped to the
     * context left after the prompt.
     *
     * @throws InvalidInputException when images and tags do not pair up or the prompt does not fit the context
     */
    public Completion completion(String id, List<Message> messages, String systemPrompt, SamplingOptions options, List<String> stop) {
        Prompt prompt = vl.prompt(messages, systemPrompt);
        int context = vl.config().language().maxPositions();
        int length = prompt.inputIds().length;
        if (length >= context) {
            throw new InvalidInputException("the prompt is " + length + " tokens but the model's context holds " + context
                    + " (images count " + vl.config().chatProcessor().numImageTokens() + " tokens each)");
        }
        int budget = Math.min(options.maxNewTokens(), context - length);
        return new Completion(id, prompt, options.withMaxNewTokens(budget), stop);
    }

    /** Queues the completion, waiting while the batch and its queue are full. */
    public void submit(Completion job) throws InterruptedException {
        while (!scheduler.submit(job)) {
            Thread.sleep(20);
        }
    }

    /** Waits for the completion's end, skipping its text pieces: its Done or its Failed event. */
    public static Completion.Event result(Completion job) throws InterruptedException {
        while (true) {
            Completion.Event e = job.next(1, TimeUnit.MINUTES);
            if (e instanceof Completion.Done || e instanceof Completion.Failed) {
                return e;
            }
        }
    }

    /** Stops the decode thread (what is still queued fails) and, when it loaded the model, closes it. */
    @Override
    public void close() {
        scheduler.close();
        if (ownsModel) {
            vl.close();
        }
    }
}
