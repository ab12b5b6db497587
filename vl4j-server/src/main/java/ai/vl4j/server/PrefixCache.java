package ai.vl4j.server;

import ai.vl4j.vlm.ChatState;
import ai.vl4j.vlm.Prompt;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;

/**
 * The KV caches of recently finished completions, kept for the requests that continue them. OpenAI clients send
 * the whole conversation with every turn, so a follow-up question starts with the ids (and images) of the
 * previous request and its answer; taking that request's cache, the scheduler runs only the new part. Caches are
 * kept most recent first, within a byte budget; a request takes the one sharing the longest prefix with it (at
 * least {@link #MIN_REUSE} tokens), or a fresh one. Used by the decode thread only.
 */
final class PrefixCache {
    /** Shorter common prefixes (the system prompt alone) are not worth another conversation's cache. */
    static final int MIN_REUSE = 64;

    private final long budgetBytes;
    private final int imageTokens;
    private final Deque<ChatState> idle = new ArrayDeque<>();   // most recently returned first
    private volatile long reusedTokens;   // written by the decode thread, read by /metrics

    PrefixCache(long budgetBytes, int imageTokens) {
        this.budgetBytes = budgetBytes;
        this.imageTokens = imageTokens;
    }

    /** The idle cache sharing the longest prefix with prompt (taken out of the pool), or a new empty one. */
    ChatState take(Prompt prompt) {
        ChatState best = null;
        int bestReuse = MIN_REUSE - 1;
        for (ChatState state : idle) {
            int reuse = state.reusable(prompt, imageTokens);
            if (reuse > bestReuse) {
                best = state;
                bestReuse = reuse;
            }
        }
        if (best == null) {
            return new ChatState(64);   // sized close to what the request needs: the server holds many at once
        }
        idle.remove(best);
        return best;
    }

    /** A finished completion's cache, kept for a follow-up; the least recently used go beyond the budget. */
    void giveBack(ChatState state) {
        if (budgetBytes <= 0 || state.cacheBytes() > budgetBytes) {
            return;
        }
        idle.addFirst(state);
        long total = 0;
        for (Iterator<ChatState> it = idle.iterator(); it.hasNext(); ) {
            ChatState s = it.next();
            total += s.cacheBytes();
            if (total > budgetBytes) {
                it.remove();
                total -= s.cacheBytes();
            }
        }
    }

    /** Drops every kept cache (memory ran short). */
    void clear() {
        idle.clear();
    }

    void countReused(int tokens) {
        reusedTokens += tokens;
    }

    long reusedTokens() {
        return reusedTokens;
    }
}
