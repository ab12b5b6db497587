package ai.vl4j.llm;

import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Widen;

/**
 * Keys and values of every layer for the positions seen so far, float32 or bfloat16, each kv head's in one
 * contiguous run, laid out in the order attention reads them: keys transposed in tiles of {@link Attention#BK}
 * positions ({@link Attention.KeysT}: per tile, headDim rows of BK), values as rows of headDim per position.
 * Per layer: keys [kvHead][stride / BK][headDim][BK], values [kvHead][stride][headDim]. One cache serves one
 * sequence; it is sized when the sequence starts (prompt + tokens to generate), the stride rounded up to BK.
 * <p>
 * BF16 (opt-in, {@code --kv-cache bf16}) halves the cache's memory and the bytes each decode step reads from it
 * (at 640 positions of the 1.3B model, 250 → 125 MB a token), at the precision the official model computes its
 * keys and values in (it runs in bfloat16). Keys and values are rounded once, when stored; prefill and decode
 * read the same rounded values, so a cached conversation continues exactly as a fresh prefill of it would.
 */
public final class KvCache {
    final DType precision;   // F32 or BF16
    final float[][] keysT;   // F32: [layer][tiled Kᵀ, see the class comment]
    final float[][] values;  // F32: [layer][kvHead · stride · headDim + position · headDim + c]
    final short[][] keysT16;   // BF16: the same layouts
    final short[][] values16;
    final int stride;        // positions per kv head: capacity rounded up to Attention.BK
    final int headDim;
    final int kvHeads;
    private final int capacity;
    private int length;
    private DecoderState.Decode decodeState;    // reused by every one-token step of this sequence
    private float[] decodeInput;
    private float[] decodeLogits;

    public KvCache(LlamaConfig cfg, int capacity) {
        this(cfg, capacity, DType.F32);
    }

    /** A cache whose keys and values are stored as precision: F32 or BF16. */
    public KvCache(LlamaConfig cfg, int capacity, DType precision) {
        if (precision != DType.F32 && precision != DType.BF16) {
            throw new IllegalArgumentException("KV cache precision " + precision + ": use F32 or BF16");
        }
        if (capacity < 1 || capacity > cfg.maxPositions()) {
            throw new IllegalArgumentException("KV cache capacity " + capacity + " outside 1.." + cfg.maxPositions());
        }
        this.stride = Attention.wholeTiles(capacity);
        long floats = (long) stride * cfg.kvDim();
        if (floats > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("KV cache of " + capacity + " positions is too large for one layer buffer");
        }
        this.capacity = capacity;
        this.precision = precision;
        this.headDim = cfg.headDim();
        this.kvHeads = cfg.numKvHeads();
        boolean wide = precision == DType.F32;
        this.keysT = wide ? new float[cfg.numLayers()][(int) floats] : null;
        this.values = wide ? new float[cfg.numLayers()][(int) floats] : null;
        this.keysT16 = wide ? null : new short[cfg.numLayers()][(int) floats];
        this.values16 = wide ? null : new short[cfg.numLayers()][(int) floats];
    }

    /**
     * A cache of the given capacity holding the first prefix positions of from (a conversation's earlier turns,
     * moved to a larger cache when the next turn needs more room).
     */
    public KvCache(LlamaConfig cfg, int capacity, KvCache from, int prefix) {
        this(cfg, capacity, from.precision);
        if (prefix < 0 || prefix > from.length || prefix > capacity) {
            throw new IllegalArgumentException("prefix " + prefix + " outside 0.." + Math.min(from.length, capacity));
        }
        Object[] fromKeys = from.keysT != null ? from.keysT : from.keysT16;
        Object[] fromValues = from.values != null ? from.values : from.values16;
        Object[] toKeys = keysT != null ? keysT : keysT16;
        Object[] toValues = values != null ? values : values16;
        int keyRun = Attention.wholeTiles(prefix) * headDim;   // ≤ this stride: prefix ≤ capacity
        for (int layer = 0; layer < toKeys.length; layer++) {
            for (int g = 0; g < kvHeads; g++) {
                System.arraycopy(fromKeys[layer], g * from.headStride(), toKeys[layer], g * headStride(), keyRun);
                System.arraycopy(fromValues[layer], g * from.headStride(), toValues[layer], g * headStride(), prefix * headDim);
            }
        }
        length = prefix;
    }

    /** Floats (or bfloat16 values) of one kv head's keys, and of its values: stride · headDim. */
    int headStride() {
        return stride * headDim;
    }

    /** A float32 layer's keys, for the attention kernels. */
    Attention.KeysT keys(int layer) {
        return new Attention.KeysT(keysT[layer], headStride());
    }

    /** A float32 layer's values as rows of the head size, each kv head apart. */
    Attention.Operand values(int layer) {
        return new Attention.Operand(values[layer], headDim, 0, headStride());
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

    /** F32 or BF16. */
    public DType precision() {
        return precision;
    }

    /** Heap bytes of the keys and values of all layers. */
    public long bytes() {
        long bytes = 0;
        for (int layer = 0; layer < (keysT != null ? keysT.length : keysT16.length); layer++) {
            bytes += keysT != null ? 4L * (keysT[layer].length + values[layer].length)
                    : 2L * (keysT16[layer].length + values16[layer].length);
        }
        return bytes;
    }

    /**
     * Stores position pos of a layer: k and v [kvDim] from their arrays at kOff and vOff (rounded if BF16). Element
     * c = (kv head g, dimension d) of the key goes to row d of the tile holding pos in g's Kᵀ.
     */
    void put(int layer, int pos, float[] k, int kOff, float[] v, int vOff) {
        for (int g = 0; g < kvHeads; g++) {
            int kAt = Attention.keyIndex(headStride(), headDim, g, 0, pos);
            int vAt = g * headStride() + pos * headDim;
            int src = g * headDim;
            if (keysT != null) {
                float[] kT = keysT[layer];
                for (int d = 0; d < headDim; d++) {
                    kT[kAt + d * Attention.BK] = k[kOff + src + d];
                }
                System.arraycopy(v, vOff + src, values[layer], vAt, headDim);
            } else {
                short[] kT = keysT16[layer];
                short[] vs = values16[layer];
                for (int d = 0; d < headDim; d++) {
                    kT[kAt + d * Attention.BK] = Widen.floatToBf16(k[kOff + src + d]);
                    vs[vAt + d] = Widen.floatToBf16(v[vOff + src + d]);
                }
            }
        }
    }

    /**
     * A BF16 layer's first `keys` positions widened into float arrays of the F32 layouts, for prefill's blocked
     * attention kernel.
     */
    void widen(int layer, int keys, float[] kT, float[] v) {
        int keyRun = Attention.wholeTiles(keys) * headDim;
        for (int g = 0; g < kvHeads; g++) {
            int at = g * headStride();
            Widen.bf16ToFloat(keysT16[layer], at, kT, at, keyRun);
            Widen.bf16ToFloat(values16[layer], at, v, at, keys * headDim);
        }
    }

    void advance(int n) {
        length += n;
    }

    /** The state of this sequence's one-token decode steps (kept: no allocation per token). */
    DecoderState.Decode decodeState(LlamaConfig cfg) {
        if (decodeState == null) {
            decodeState = new DecoderState.Decode(cfg, 1).of(new KvCache[] {this});
        }
        return decodeState;
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
