package ai.vl4j.tensor;

import java.util.Locale;

/**
 * Block quantization formats of GGML: each row is cut into blocks of 32 weights sharing one F16 scale d.
 * <pre>
 *   Q8_0:  w ≈ d·q,        q ∈ [−127, 127] one signed byte each,   d = max|w| / 127
 *   Q4_0:  w ≈ d·(q − 8),  q ∈ [0, 15] four bits each,            d = w_maxabs / −8 (w_maxabs: the weight of largest |w|, signed)
 * </pre>
 * The values are GGML's; the order of Q4_0's nibbles in a block's 16 bytes is vl4j's own: little-endian 16-bit
 * word w (w < 8) holds q[w], q[w+8], q[w+16], q[w+24] in its nibbles from the lowest up, i.e. byte 2w =
 * q[w] | q[w+8]·16 and byte 2w+1 = q[w+16] | q[w+24]·16. Shifting a vector of words by 4s then yields eight
 * values of one block in order, and a 16-bit multiply of four blocks' words by int8 activations serves decode
 * ({@link QuantGemv}). GGML's order (byte j: q[j] low, q[j+16] high) is what vl4j wrote before; such files are
 * reordered on load ({@link QuantizedTensor#fromGgmlQ4}).
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
