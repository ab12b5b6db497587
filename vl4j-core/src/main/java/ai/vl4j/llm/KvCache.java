package ai.vl4j.llm;

import ai.vl4j.tensor.Attention;

/**
 * Keys and values of every layer for the positions seen so far, float32. Keys are kept transposed per kv head,
 * [kvHead][headDim][stride] with positions contiguous, so attention reads them as vectors along positions
 * without packing; values are rows, [stride][kvDim]. One cache serves one sequence; it is sized when the
 * sequence starts (prompt + tokens to generate), the stride rounded up to the attention kernel's key block.
 */
public final class KvCache {
    final float[][] keysT;   // [layer][kvHead · headDim · stride + d · stride + position]
    final float[][] values;  // [layer][position · kvDim]
    final int stride;        // positions per key row: capacity rounded up to Attention.BK
    private final int capacity;
    private int length;
    private LlamaModel.Scratch decodeScratch;   // reused by every one-token step of this sequence
    private float[] decodeInput;
    private float[] decodeLogits;

    public KvCache(LlamaConfig cfg, int capacity) {
        if (capacity < 1 || capacity > cfg.maxPositions()) {
            throw new IllegalArgumentException("KV cache capacity " + capacity + " outside 1.." + cfg.maxPositions());
        }
        this.stride = (capacity + Attention.BK - 1) / Attention.BK * Attention.BK;
        long floats = (long) stride * cfg.kvDim();
        if (floats > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("KV cache of " + capacity + " positions is too large for one layer buffer");
        }
        this.capacity = capacity;
        this.keysT = new float[cfg.numLayers()][(int) floats];
        this.values = new float[cfg.numLayers()][(int) floats];
    }

    /**
     * A cache of the given capacity holding the first prefix positions of from (a conversation's earlier turns,
     * moved to a larger cache when the next turn needs more room).
     */
    public KvCache(LlamaConfig cfg, int capacity, KvCache from, int prefix) {
        this(cfg, capacity);
        if (prefix < 0 || prefix > from.length || prefix > capacity) {
            throw new IllegalArgumentException("prefix " + prefix + " outside 0.." + Math.min(from.length, capacity));
        }
        int hd = cfg.headDim();
        int kvDim = cfg.kvDim();
        for (int layer = 0; layer < keysT.length; layer++) {
            for (int row = 0; row < kvDim; row++) {   // (kv head, dimension) rows of Kᵀ: positions are contiguous
                int g = row / hd;
                int d = row % hd;
                System.arraycopy(from.keysT[layer], g * hd * from.stride + d * from.stride,
                        keysT[layer], g * hd * stride + d * stride, prefix);
            }
            System.arraycopy(from.values[layer], 0, values[layer], 0, prefix * kvDim);
        }
        length = prefix;
    }

    /** Forgets the positions from length on (a conversation that diverged there); what stays is reused as is. */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate a cache of " + length + " positions to " + newLength);
        }
        length = newLength;
    }

    /** Positions filled so far; the next token goes at this position. */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /** Heap bytes of the keys and values of all layers. */
    public long bytes() {
        long bytes = 0;
        for (int layer = 0; layer < keysT.length; layer++) {
            bytes += 4L * (keysT[layer].length + values[layer].length);
        }
        return bytes;
    }

    void advance(int n) {
        length += n;
    }

    LlamaModel.Scratch decodeScratch(LlamaConfig cfg) {
        if (decodeScratch == null) {
            decodeScratch = new LlamaModel.Scratch(cfg, 1);
        }
        return decodeScratch;
    }

    float[] decodeInput(int hidden) {
        if (decodeInput == null) {
            decodeInput = new float[hidden];
        }
        return decodeInput;
    }

    float[] decodeLogits(int vocab) {
        if (decodeLogits == null) {
            decodeLogits = new float[vocab];
        }
        return decodeLogits;
    }
}
