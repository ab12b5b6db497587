package ai.vl4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A weight matrix in a {@link QuantType} block format, off-heap: per row, the blocks' quantized values
 * ({@code quants}, rows × rowBytes) and their F16 scales ({@code scales}, rows × blocks). This is also the
 * layout of the {@code .qweight} / {@code .scales} tensors of a quantized checkpoint folder.
 */
public final class QuantizedTensor implements WeightMatrix {
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = FS.length();

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

    /** Quantizes a dense matrix into memory of the arena (GGML's reference rounding). */
    public static QuantizedTensor quantize(WeightMatrix dense, QuantType type, Arena arena) {
        int rows = dense.rows();
        int cols = dense.cols();
        int blocks = QuantType.blocks(cols);
        MemorySegment q = arena.allocate(rows * type.rowBytes(cols), 64);
        MemorySegment d = arena.allocate(2L * rows * blocks, 2);
        Parallel.forRange(0, rows, 64, (lo, hi) -> {
            float[] row = new float[blocks * QuantType.BLOCK];
            for (int r = lo; r < hi; r++) {
                java.util.Arrays.fill(row, 0f);
                dense.rowToFloat(r, 0, cols, row, 0);
                for (int b = 0; b < blocks; b++) {
                    long qOff = r * type.rowBytes(cols) + (long) b * type.blockBytes();
                    float scale = type == QuantType.Q8_0 ? q8Block(row, b * QuantType.BLOCK, q, qOff)
                            : q4Block(row, b * QuantType.BLOCK, q, qOff);
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

    /** quantize_row_q4_0: d = (value of largest magnitude)/−8, q = min(15, (int)(x/d + 8.5)). */
    private static float q4Block(float[] x, int off, MemorySegment q, long qOff) {
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
        for (int j = 0; j < QuantType.BLOCK / 2; j++) {
            int lo = Math.min(15, (int) (x[off + j] * id + 8.5f));
            int hi = Math.min(15, (int) (x[off + j + 16] * id + 8.5f));
            q.set(ValueLayout.JAVA_BYTE, qOff + j, (byte) (lo | (hi << 4)));
        }
        return d;
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
        int packed = quants.get(ValueLayout.JAVA_BYTE, base + (j & 15)) & 0xFF;
        return (j < 16 ? packed & 0xF : packed >>> 4) - 8;
    }

    @Override
    public void rowToFloat(int row, int k0, int len, float[] dst, int off) {
        long rowBase = row * type.rowBytes(cols);
        int k = k0;
        int end = k0 + len;
        // whole blocks: widened and scaled with vectors (the GEMM packs panels this way for prefill)
        if (k % QuantType.BLOCK == 0 && LANES == 16) {
            for (; k + QuantType.BLOCK <= end; k += QuantType.BLOCK) {
                int b = k / QuantType.BLOCK;
                FloatVector d = FloatVector.broadcast(FS, scale(row, b));
                long base = rowBase + (long) b * type.blockBytes();
                int o = off + k - k0;
                if (type == QuantType.Q8_0) {
                    ByteVector bytes = ByteVector.fromMemorySegment(ByteVector.SPECIES_256, quants, base, ByteOrder.LITTLE_ENDIAN);
                    ((FloatVector) bytes.convertShape(VectorOperators.B2F, FS, 0)).mul(d).intoArray(dst, o);
                    ((FloatVector) bytes.convertShape(VectorOperators.B2F, FS, 1)).mul(d).intoArray(dst, o + LANES);
                } else {
                    IntVector packed = (IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, quants, base, ByteOrder.LITTLE_ENDIAN)
                            .convertShape(VectorOperators.B2I, IntVector.SPECIES_512, 0);
                    ((FloatVector) packed.and(0xF).sub(8).convert(VectorOperators.I2F, 0)).mul(d).intoArray(dst, o);
                    ((FloatVector) packed.lanewise(VectorOperators.ASHR, 4).and(0xF).sub(8).convert(VectorOperators.I2F, 0))
                            .mul(d).intoArray(dst, o + LANES);
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
                int v;
                if (type == QuantType.Q8_0) {
                    v = quants.get(ValueLayout.JAVA_BYTE, base + j);
                } else {
                    int packed = quants.get(ValueLayout.JAVA_BYTE, base + (j & 15)) & 0xFF;
                    v = (j < 16 ? packed & 0xF : packed >>> 4) - 8;
                }
                dst[off + k - k0] = d * v;
            }
        }
    }
}
