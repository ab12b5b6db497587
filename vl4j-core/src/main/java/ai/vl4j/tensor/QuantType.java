package ai.vl4j.tensor;

import java.util.Locale;

/**
 * Block quantization formats of GGML: each row is cut into blocks of 32 weights sharing one F16 scale d.
 * <pre>
 *   Q8_0:  w ≈ d·q,        q ∈ [−127, 127] one signed byte each,   d = max|w| / 127
 *   Q4_0:  w ≈ d·(q − 8),  q ∈ [0, 15] four bits each,            d = w_maxabs / −8 (w_maxabs: the weight of largest |w|, signed)
 *          nibbles of a block: byte j holds q[j] (low 4 bits) and q[j + 16] (high 4 bits), j < 16
 * </pre>
 * A row whose length is not a multiple of 32 ends with a shorter block (GGML requires multiples of 32; the
 * real models satisfy it, the tiny test models do not).
 */
public enum QuantType {
    Q8_0, Q4_0;

    public static final int BLOCK = 32;

    /** Bytes of quantized values per block (a short last block is stored padded to a full one). */
    public int blockBytes() {
        return this == Q8_0 ? BLOCK : BLOCK / 2;
    }

    /** Bytes of quantized values for a row of `cols` weights. */
    public long rowBytes(int cols) {
        return (long) blocks(cols) * blockBytes();
    }

    public static int blocks(int cols) {
        return (cols + BLOCK - 1) / BLOCK;
    }

    /** "q8_0" / "q4_0" as written by users and in checkpoint metadata. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static QuantType parse(String s) {
        for (QuantType t : values()) {
            if (t.id().equalsIgnoreCase(s)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown quantization " + s + " (use q8_0 or q4_0)");
    }
}
