package ai.vl4j.vlm;

import ai.vl4j.image.RgbImage;
import ai.vl4j.llm.KvCache;
import ai.vl4j.tensor.DType;
import ai.vl4j.llm.LlamaConfig;
import java.util.Arrays;
import java.util.List;

/**
 * The KV cache of a conversation, kept from one turn to the next. Each turn's prompt repeats the previous turns
 * (templated anew), so its ids usually begin with exactly the ids whose keys and values are already cached: the
 * previous prompt and the answer generated to it. {@link DeepSeekVl#generate(Prompt, ai.vl4j.generate.SamplingOptions,
 * ai.vl4j.generate.TokenListener, ChatState)} then prefills only the rest, and runs the vision tower only for images
 * not yet in the cache. Where the new ids diverge (an undone round, rounds dropped to fit the context, another
 * system prompt) the cache is cut back to the common prefix, so reuse never changes the answer beyond float
 * rounding. One conversation per state, one generation at a time.
 */
public final class ChatState {
    private final int granularity;   // cache capacities are rounded up to a multiple of this
    private KvCache cache;
    private int[] ids = new int[0];   // the ids whose keys and values are in cache, in order
    private List<RgbImage> images = List.of();   // the images in those ids, and where their spans start
    private int[] imageStarts = new int[0];

    /** A state whose caches grow in steps of 512 positions (a chat: fewer copies as the conversation grows). */
    public ChatState() {
        this(512);
    }

    /** A state whose cache capacities are rounded up to a multiple of granularity positions. */
    public ChatState(int granularity) {
        if (granularity < 1) {
            throw new IllegalArgumentException("granularity must be positive, got " + granularity);
        }
        this.granularity = granularity;
    }

    /** Forgets the cached conversation (a new one starts). */
    public void reset() {
        cache = null;
        ids = new int[0];
        images = List.of();
        imageStarts = new int[0];
    }

    /** Positions held from earlier turns. */
    public int cachedTokens() {
        return cache == null ? 0 : cache.length();
    }

    /** Memory the kept cache holds (0 when none). */
    public long cacheBytes() {
        return cache == null ? 0 : cache.bytes();
    }

    /**
     * How many leading ids of prompt can be taken from the cache: the common prefix, leaving at least one id to
     * run (its logits start the answer), never ending inside an image's span (its rows come from one tower pass,
     * all or none), and stopping at an image whose pixels differ from the cached one at that place (every image
     * has the same placeholder ids).
     */
    public int reusable(Prompt prompt, int imageTokens) {
        int[] next = prompt.inputIds();
        int limit = Math.min(Math.min(ids.length, cachedTokens()), next.length - 1);
        int common = 0;
        while (common < limit && ids[common] == next[common]) {
            common++;
        }
        for (int i = 0; i < prompt.imageStarts().length; i++) {
            int start = prompt.imageStarts()[i];
            if (start < common && (common < start + imageTokens || !sameImageAt(start, prompt.images().get(i)))) {
                common = start;
            }
        }
        return common;
    }

    private boolean sameImageAt(int start, RgbImage image) {
        for (int i = 0; i < imageStarts.length; i++) {
            if (imageStarts[i] == start) {
                RgbImage cached = images.get(i);
                return cached == image || cached.width() == image.width() && cached.height() == image.height()
                        && Arrays.equals(cached.rgb(), image.rgb());
            }
        }
        return false;
    }

    /**
     * A cache holding the first reuse positions (fewer if memory runs short; its length says how many) and room
     * for needed in all: the kept one cut back, or a larger one (capacity rounded up to the granularity, at most
     * maxPositions) with the prefix copied over.
     */
    KvCache prepare(LlamaConfig cfg, DType precision, int reuse, int needed) {
        if (cache != null && cache.precision() != precision) {
            reset();                                     // made by a model loaded with another precision
        }
        if (cache != null && cache.capacity() >= needed) {
            cache.truncate(reuse);
            return cache;
        }
        int capacity = Math.min(cfg.maxPositions(), (needed + granularity - 1) / granularity * granularity);
        if (cache != null && reuse > 0) {
            try {
                cache = new KvCache(cfg, capacity, cache, reuse);
                return cache;
            } catch (OutOfMemoryError e) {
                // the old cache and the larger one do not fit together: let the old one go and start over
            }
        }
        reset();
        cache = new KvCache(cfg, capacity, precision);
        return cache;
    }

    /**
     * After a turn: used (the cache {@link DeepSeekVl#prefill} returned for this state) now holds prompt and the
     * generated tokens that were fed back (all of generated but the last; its first used.length() − prompt
     * length).
     */
    public void remember(KvCache used, Prompt prompt, int[] generated) {
        int[] promptIds = prompt.inputIds();
        cache = used;
        int fed = used.length() - promptIds.length;
        ids = new int[used.length()];
        System.arraycopy(promptIds, 0, ids, 0, promptIds.length);
        System.arraycopy(generated, 0, ids, promptIds.length, fed);
        images = prompt.images();
        imageStarts = prompt.imageStarts().clone();
    }
}
