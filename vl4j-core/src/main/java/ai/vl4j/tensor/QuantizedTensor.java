package ai.vl4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * A weight matrix in a {@link QuantType} block format, off-heap: per row, the blocks' quantized values
 * ({@code quants}, rows × rowBytes) and their F16 scales ({@code scales}, rows × blocks). This is also the
 * layout of the {@code .qweight} / {@code .scales} tensors of a quantized checkpoint folder.
 */
public final class QuantizedTensor implements WeightMatrix {
    /** Checkpoint metadata key and value that say Q4_0 nibbles are in vl4j's order (see {@link QuantType}). */
    public static final String Q4_ORDER_KEY = "vl4j.q4_0_nibbles";
    public static final String Q4_ORDER = "words8";
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = FS.length();
    /** Bytes widened to one float vector: 8 (64 bits) under AVX2, 16 under AVX-512. */
    private static final VectorSpecies<Byte> BS = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, LANES * 8)));
    /** Whole blocks are widened with vectors where float vectors have at least 256 bits (no narrower shape is named). */
    private static final boolean VECTOR_BLOCKS = FS.vectorBitSize() >= 256;

    private final String name;
    private final QuantType type;
    private final int rows;
    private final int cols;
    private final MemorySegment quants;   // [rows, blocks·blockBytes]
    private final MemorySegment scales;   // [rows, blocks] F16

    public QuantizedTensor(String name, QuantType type, int rows, int cols, MemorySegment quants, MemorySegment scales) {
        if (quants.byteSize() != rows * type.rowBytes(cols) || scales.byteSize() != 2L * rows * QuantType.blocks(cols)) {
            throw new IllegalArgumentException(name + ": " + type.id() + " data of " + quants.byteSize() + " + "
                    + scales.byteSize() + " bytes does not fit [" + rows + ", " + cols + "]");
        }
        this.name = name;
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.quants = quants;
        this.scales = scales;
    }

    /**
     * Index of the first Inf or NaN among F16 scales, or −1. The Q4_0 decode kernel widens scales without the
     * Inf/NaN case, so a checkpoint's scales are checked once when it is read.
     */
    public static long firstNonFiniteScale(MemorySegment scales) {
        long n = scales.byteSize() / 2;
        for (long i = 0; i < n; i++) {
            if ((scales.get(F16, 2 * i) & 0x7c00) == 0x7c00) {
                return i;
            }
        }
        return -1;
    }

    /** Quantizes a dense matrix into memory of the arena (GGML's reference rounding). */
    public static QuantizedTensor quantize(WeightMatrix dense, QuantType type, Arena arena) {
        int rows = dense.rows();
        int cols = dense.cols();
        int blocks = QuantType.blocks(cols);
        MemorySegment q = arena.allocate(rows * type.rowBytes(cols), 64);
        MemorySegment d = arena.allocate(2L * rows * blocks, 2);
        Parallel.forRange(0, rows, 64, (lo, hi) -> {
            float[] row = new float[blocks * QuantType.BLOCK];
            int[] values = new int[QuantType.BLOCK];
            for (int r = lo; r < hi; r++) {
                java.util.Arrays.fill(row, 0f);
                dense.rowToFloat(r, 0, cols, row, 0);
                for (int b = 0; b < blocks; b++) {
                    long qOff = r * type.rowBytes(cols) + (long) b * type.blockBytes();
                    float scale = type == QuantType.Q8_0 ? q8Block(row, b * QuantType.BLOCK, q, qOff)
                            : q4Block(row, b * QuantType.BLOCK, q, qOff, values);
                    d.set(F16, 2L * ((long) r * blocks + b), Float.floatToFloat16(scale));
                }
            }
        });
        return new QuantizedTensor(dense.name(), type, rows, cols, q, d);
    }

    /** quantize_row_q8_0: d = amax/127, q = round(x/d) (half away from zero). */
    private static float q8Block(float[] x, int off, MemorySegment q, long qOff) {
        float amax = 0f;
        for (int j = 0; j < QuantType.BLOCK; j++) {
            amax = Math.max(amax, Math.abs(x[off + j]));
        }
        float d = amax / 127f;
        float id = d != 0f ? 1f / d : 0f;
        for (int j = 0; j < QuantType.BLOCK; j++) {
            float v = x[off + j] * id;
            q.set(ValueLayout.JAVA_BYTE, qOff + j, (byte) (v >= 0 ? Math.round(v) : -Math.round(-v)));    // C roundf
        }
        return d;
    }

    /** quantize_row_q4_0: d = (value of largest magnitude)/−8, q = min(15, (int)(x/d + 8.5)); nibbles in vl4j's order. */
    private static float q4Block(float[] x, int off, MemorySegment q, long qOff, int[] v) {
        float amax = 0f;
        float max = 0f;
        for (int j = 0; j < QuantType.BLOCK; j++) {
            if (amax < Math.abs(x[off + j])) {
                amax = Math.abs(x[off + j]);
                max = x[off + j];
            }
        }
        float d = max / -8f;
        float id = d != 0f ? 1f / d : 0f;
        for (int j = 0; j < QuantType.BLOCK; j++) {
            v[j] = Math.min(15, (int) (x[off + j] * id + 8.5f));
        }
        putQ4(q, qOff, v);
        return d;
    }

    /** One block's 32 values (0..15) at qOff in vl4j's order: word w holds q[w], q[w+8], q[w+16], q[w+24]. */
    private static void putQ4(MemorySegment q, long qOff, int[] v) {
        for (int w = 0; w < 8; w++) {
            q.set(ValueLayout.JAVA_BYTE, qOff + 2 * w, (byte) (v[w] | v[w + 8] << 4));
            q.set(ValueLayout.JAVA_BYTE, qOff + 2 * w + 1, (byte) (v[w + 16] | v[w + 24] << 4));
        }
    }

    /**
     * A Q4_0 matrix whose blocks are in GGML's nibble order (byte j: q[j] low, q[j+16] high), as vl4j wrote them
     * before the {@link #Q4_ORDER_KEY} metadata: copied into the arena in vl4j's order (see {@link QuantType}).
     */
    public static QuantizedTensor fromGgmlQ4(String name, int rows, int cols, MemorySegment ggml, MemorySegment scales, Arena arena) {
        long bytes = rows * QuantType.Q4_0.rowBytes(cols);
        if (ggml.byteSize() != bytes) {
            throw new IllegalArgumentException(name + ": q4_0 data of " + ggml.byteSize() + " bytes does not fit [" + rows + ", " + cols + "]");
        }
        MemorySegment q = arena.allocate(bytes, 64);
        long blocks = bytes / 16;
        Parallel.forRange(0, (int) ((blocks + 4095) / 4096), 1, (lo, hi) -> {
            int[] v = new int[QuantType.BLOCK];
            for (long b = lo * 4096L; b < Math.min(blocks, hi * 4096L); b++) {
                for (int j = 0; j < QuantType.BLOCK; j++) {
                    v[j] = ggmlNibble(ggml, b * 16, j);
                }
                putQ4(q, b * 16, v);
            }
        });
        return new QuantizedTensor(name, QuantType.Q4_0, rows, cols, q, scales);
    }

    private static int ggmlNibble(MemorySegment ggml, long block, int j) {
        int packed = ggml.get(ValueLayout.JAVA_BYTE, block + (j & 15)) & 0xFF;
        return j < 16 ? packed & 0xF : packed >>> 4;
    }

    @Override
    public String name() {
        return name;
    }

    public QuantType type() {
        return type;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    public MemorySegment quants() {
        return quants;
    }

    public MemorySegment scales() {
        return scales;
    }

    @Override
    public long bytes() {
        return quants.byteSize() + scales.byteSize();
    }

    /** Scale of block b of a row. */
    float scale(int row, int block) {
        return Float.float16ToFloat(scales.get(F16, 2L * ((long) row * QuantType.blocks(cols) + block)));
    }

    /** Quantized value j (0..31) of block b of a row, as a signed integer (Q4_0 already re-centred by −8). */
    int value(int row, int block, int j) {
        long base = row * type.rowBytes(cols) + (long) block * type.blockBytes();
        if (type == QuantType.Q8_0) {
            return quants.get(ValueLayout.JAVA_BYTE, base + j);
        }
        return q4(base, j) - 8;
    }

    /** Q4_0 nibble j of the block at byte `base`: in 16-bit word j mod 8, nibble j / 8 (see QuantType). */
    private int q4(long base, int j) {
        int packed = quants.get(ValueLayout.JAVA_BYTE, base + 2 * (j & 7) + (j >> 4)) & 0xFF;
        return (j & 8) == 0 ? packed & 0xF : packed >>> 4;
    }

    @Override
    public void rowToFloat(int row, int k0, int len, float[] dst, int off) {
        long rowBase = row * type.rowBytes(cols);
        int k = k0;
        int end = k0 + len;
        // whole blocks: widened and scaled with vectors (the GEMM packs panels this way for prefill)
        if (k % QuantType.BLOCK == 0 && VECTOR_BLOCKS) {
            for (; k + QuantType.BLOCK <= end; k += QuantType.BLOCK) {
                int b = k / QuantType.BLOCK;
                float scale = scale(row, b);
                long base = rowBase + (long) b * type.blockBytes();
                int o = off + k - k0;
                if (type == QuantType.Q8_0) {
                    FloatVector d = FloatVector.broadcast(FS, scale);
                    for (int p = 0; p < QuantType.BLOCK; p += LANES) {
                        ByteVector bytes = ByteVector.fromMemorySegment(BS, quants, base + p, ByteOrder.LITTLE_ENDIAN);
                        ((FloatVector) bytes.convertShape(VectorOperators.B2F, FS, 0)).mul(d).intoArray(dst, o + p);
                    }
                } else {
                    // word w holds q[w + 8s] in nibble s: shifting all eight words by 4s gives q[8s .. 8s+7] in order
                    ShortVector words = ShortVector.fromMemorySegment(ShortVector.SPECIES_128, quants, base, ByteOrder.LITTLE_ENDIAN);
                    FloatVector d = FloatVector.broadcast(FloatVector.SPECIES_256, scale);
                    for (int sh = 0; sh < 4; sh++) {
                        ShortVector nib = words.lanewise(VectorOperators.LSHR, 4 * sh).and((short) 0xF);
                        ((FloatVector) nib.convertShape(VectorOperators.S2F, FloatVector.SPECIES_256, 0)).sub(8f).mul(d)
                                .intoArray(dst, o + 8 * sh);
                    }
                }
            }
        }
        while (k < end) {
            int b = k / QuantType.BLOCK;
            float d = scale(row, b);
            long base = rowBase + (long) b * type.blockBytes();
            int stop = Math.min(end, (b + 1) * QuantType.BLOCK);
            for (; k < stop; k++) {
                int j = k % QuantType.BLOCK;
                int v = type == QuantType.Q8_0 ? quants.get(ValueLayout.JAVA_BYTE, base + j) : q4(base, j) - 8;
                dst[off + k - k0] = d * v;
            }
        }
    }
}
