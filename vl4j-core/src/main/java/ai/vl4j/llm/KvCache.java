package ai.vl4j.llm;

/**
 * Keys and values of every layer for the positions seen so far, float32, [capacity, kvDim] per layer.
 * One cache serves one sequence; it is sized when the sequence starts (prompt + tokens to generate).
 */
public final class KvCache {
    final float[][] keys;    // [layer][position · kvDim]
    final float[][] values;  // [layer][position · kvDim]
    private final int capacity;
    private int length;

    public KvCache(LlamaConfig cfg, int capacity) {
        if (capacity < 1 || capacity > cfg.maxPositions()) {
            throw new IllegalArgumentException("KV cache capacity " + capacity + " outside 1.." + cfg.maxPositions());
        }
        long floats = (long) capacity * cfg.kvDim();
        if (floats > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("KV cache of " + capacity + " positions is too large for one layer buffer");
        }
        this.capacity = capacity;
        this.keys = new float[cfg.numLayers()][(int) floats];
        this.values = new float[cfg.numLayers()][(int) floats];
    }

    /** Positions filled so far; the next token goes at this position. */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /** Forgets every position after the first n (e.g. to re-run a shorter prefix). */
    public void truncate(int n) {
        if (n < 0 || n > length) {
            throw new IllegalArgumentException("cannot truncate a cache of " + length + " to " + n);
        }
        length = n;
    }

    void advance(int n) {
        length += n;
    }
}
