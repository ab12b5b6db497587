package ai.vl4j.tensor;

import ai.vl4j.ModelFormatException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A named n-dimensional array in little-endian row-major layout: a slice of a memory-mapped file (weights)
 * or of an off-heap buffer, plus its dtype and shape. It never copies the weights onto the Java heap; the
 * kernels read the segment directly.
 */
public final class Tensor implements WeightMatrix {
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final String name;
    private final DType dtype;
    private final long[] shape;
    private final MemorySegment data;

    public Tensor(String name, DType dtype, long[] shape, MemorySegment data) {
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.data = data;
        long expected = numel() * dtype.size;
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor " + name + ": " + data.byteSize() + " bytes for shape "
                    + Arrays.toString(shape) + " " + dtype + " (expected " + expected + ")");
        }
    }

    /** A float32 tensor holding a copy of values (for tests, writers and synthetic models). */
    public static Tensor ofFloats(String name, float[] values, long... shape) {
        MemorySegment seg = Arena.ofAuto().allocate((long) values.length * 4, 4);
        MemorySegment.copy(values, 0, seg, Widen.F32_LE, 0, values.length);
        return new Tensor(name, DType.F32, shape, seg);
    }

    /**
     * A float32 tensor over values themselves (no copy): the kernels read the array as it is when it is read, so a
     * weight being trained is multiplied in place.
     */
    public static Tensor view(String name, float[] values, long... shape) {
        return new Tensor(name, DType.F32, shape, MemorySegment.ofArray(values));
    }

    /**
     * The rows of matrices of one dtype and width stacked into one new matrix [Σ rows, cols], copied off-heap
     * (e.g. a checkpoint's separate q, k and v projections as one fused qkv weight).
     */
    public static Tensor concatRows(String name, Tensor... parts) {
        long rows = 0;
        for (Tensor t : parts) {
            if (t.rank() != 2 || t.dim(1) != parts[0].dim(1) || t.dtype != parts[0].dtype) {
                throw new ModelFormatException("tensor " + t + " cannot be stacked with " + parts[0] + " into " + name);
            }
            rows += t.dim(0);
        }
        MemorySegment seg = Arena.ofAuto().allocate(rows * parts[0].dim(1) * parts[0].dtype.size, 8);
        long at = 0;
        for (Tensor t : parts) {
            MemorySegment.copy(t.data, 0, seg, at, t.data.byteSize());
            at += t.data.byteSize();
        }
        return new Tensor(name, parts[0].dtype, new long[] {rows, parts[0].dim(1)}, seg);
    }

    /** The same values converted to dtype (F32, F16 or BF16; rounding to nearest even). */
    public Tensor convertTo(DType target) {
        float[] values = toFloatArray();
        if (target == DType.F32) {
            return ofFloats(name, values, shape);
        }
        if (target != DType.F16 && target != DType.BF16) {
            throw new IllegalArgumentException("cannot convert " + name + " to " + target);
        }
        MemorySegment seg = Arena.ofAuto().allocate((long) values.length * 2, 2);
        for (int i = 0; i < values.length; i++) {
            short bits = target == DType.BF16 ? Widen.floatToBf16(values[i]) : Float.floatToFloat16(values[i]);
            seg.set(Widen.I16_LE, 2L * i, bits);
        }
        return new Tensor(name, target, shape, seg);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int rows() {
        requireMatrix();
        return (int) shape[0];
    }

    @Override
    public int cols() {
        requireMatrix();
        return (int) shape[1];
    }

    @Override
    public long bytes() {
        return data.byteSize();
    }

    @Override
    public void rowToFloat(int row, int k0, int len, float[] dst, int off) {
        Widen.toFloat(data, dtype, (long) row * shape[1] + k0, dst, off, len);
    }

    private void requireMatrix() {
        if (shape.length != 2) {
            throw new IllegalStateException("tensor " + name + " is not a matrix: " + Arrays.toString(shape));
        }
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public MemorySegment data() {
        return data;
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    public long numel() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Element i (flat index) widened to float; F32/F16/BF16 only. */
    public float getFloat(long i) {
        return Widen.get(data, dtype, i);
    }

    /** Element i (flat index) of an integer tensor (U8, I32, I64) as a long. */
    public long getLong(long i) {
        return switch (dtype) {
            case U8 -> Byte.toUnsignedLong(data.get(ValueLayout.JAVA_BYTE, i));
            case I32 -> data.get(I32_LE, i * 4);
            case I64 -> data.get(I64_LE, i * 8);
            default -> throw new IllegalArgumentException("tensor " + name + " is " + dtype + ", not an integer type");
        };
    }

    /** All elements widened to float32 (F32/F16/BF16), or converted from U8/I32/I64. */
    public float[] toFloatArray() {
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor " + name + " is too large for one float array");
        }
        float[] out = new float[(int) n];
        if (dtype.isFloatWeight()) {
            Widen.toFloat(data, dtype, 0, out, 0, (int) n);
        } else {
            for (int i = 0; i < n; i++) {
                out[i] = getLong(i);
            }
        }
        return out;
    }

    /** The same data under another name. */
    public Tensor rename(String newName) {
        return new Tensor(newName, dtype, shape, data);
    }

    /** The same data viewed with another shape of equal element count (e.g. a conv kernel as a matrix). */
    public Tensor reshape(long... newShape) {
        return new Tensor(name, dtype, newShape, data);
    }

    /** Checks the shape, naming the tensor and both shapes when it differs. */
    public Tensor expectShape(long... expected) {
        if (!Arrays.equals(shape, expected)) {
            throw new ModelFormatException("tensor " + name + " has shape " + Arrays.toString(shape)
                    + ", expected " + Arrays.toString(expected));
        }
        return this;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
