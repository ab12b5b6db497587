package ai.vl4j.llm;

import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Widen;

/**
 * Keys and values of every layer for the positions seen so far, float32 or bfloat16. Keys are kept transposed
 * per kv head, [kvHead][headDim][stride] with positions contiguous, so attention reads them as vectors along
 * positions without packing; values are rows, [stride][kvDim]. One cache serves one sequence; it is sized when
 * the sequence starts (prompt + tokens to generate), the stride rounded up to the attention kernel's key block.
 * <p>
 * BF16 (opt-in, {@code --kv-cache bf16}) halves the cache's memory and the bytes each decode step reads from it
 * (at 640 positions of the 1.3B model, 250 → 125 MB a token), at the precision the official model computes its
 * keys and values in (it runs in bfloat16). Keys and values are rounded once, when stored; prefill and decode
 * read the same rounded values, so a cached conversation continues exactly as a fresh prefill of it would.
 */
public final class KvCache {
    final DType precision;   // F32 or BF16
    final float[][] keysT;   // F32: [layer][kvHead · headDim · stride + d · stride + position]
    final float[][] values;  // F32: [layer][position · kvDim]
    final short[][] keysT16;   // BF16: the same layouts
    final short[][] values16;
    final int stride;        // positions per key row: capacity rounded up to Attention.BK
    private final int capacity;
    private int length;
    private LlamaModel.Scratch decodeScratch;   // reused by every one-token step of this sequence
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
        this.stride = (capacity + Attention.BK - 1) / Attention.BK * Attention.BK;
        long floats = (long) stride * cfg.kvDim();
        if (floats > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("KV cache of " + capacity + " positions is too large for one layer buffer");
        }
        this.capacity = capacity;
        this.precision = precision;
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
        int kvDim = cfg.kvDim();
        Object[] fromKeys = from.keysT != null ? from.keysT : from.keysT16;
        Object[] fromValues = from.values != null ? from.values : from.values16;
        Object[] toKeys = keysT != null ? keysT : keysT16;
        Object[] toValues = values != null ? values : values16;
        for (int layer = 0; layer < toKeys.length; layer++) {
            for (int row = 0; row < kvDim; row++) {   // rows of Kᵀ, one per (kv head, dimension): positions contiguous
                System.arraycopy(fromKeys[layer], row * from.stride, toKeys[layer], row * stride, prefix);
            }
            System.arraycopy(fromValues[layer], 0, toValues[layer], 0, prefix * kvDim);
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
     * Stores position pos of a layer: k and v [kvDim] from their arrays at kOff and vOff (rounded if BF16). Key
     * element c = (kv head g, dimension d) goes to row c = g·headDim + d of Kᵀ, at column pos.
     */
    void put(int layer, int pos, float[] k, int kOff, float[] v, int vOff, int kvDim) {
        if (keysT != null) {
            float[] kT = keysT[layer];
            for (int c = 0; c < kvDim; c++) {
                kT[c * stride + pos] = k[kOff + c];
            }
            System.arraycopy(v, vOff, values[layer], pos * kvDim, kvDim);
            return;
        }
        short[] kT = keysT16[layer];
        short[] vs = values16[layer];
        for (int c = 0; c < kvDim; c++) {
            kT[c * stride + pos] = Widen.floatToBf16(k[kOff + c]);
            vs[pos * kvDim + c] = Widen.floatToBf16(v[vOff + c]);
        }
    }

    /**
     * A BF16 layer's first `keys` positions widened into float arrays of the F32 layout (kT [kvDim][stride],
     * values [keys][kvDim]), for prefill's blocked attention kernel.
     */
    void widen(int layer, int keys, int kvDim, float[] kT, float[] v) {
        for (int row = 0; row < kvDim; row++) {
            Widen.bf16ToFloat(keysT16[layer], row * stride, kT, row * stride, keys);
        }
        Widen.bf16ToFloat(values16[layer], 0, v, 0, keys * kvDim);
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
