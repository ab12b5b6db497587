package ai.vl4j.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Exact widening of stored weights (F32, F16, BF16; little-endian) to float32.
 *
 * <pre>
 * BF16:  s eeeeeeee mmmmmmm                 -> s eeeeeeee mmmmmmm 0000000000000000   (shift left 16)
 * F16:   s eeeee mmmmmmmmmm                 -> float((h & 0x7fff) << 13) * 2^112, then OR the sign:
 *        the 2^112 product re-biases the exponent (15 -> 127) and turns F16 subnormals into F32 normals
 *        exactly; exponent 31 (inf/NaN) is patched separately.
 * </pre>
 */
public final class Widen {
    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, FS.vectorShape());
    static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, VectorShape.forBitSize(FS.vectorBitSize() / 2));
    private static final float TWO_POW_112 = 0x1p112f;

    private Widen() {
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** Rounds to the nearest bfloat16, ties to even (NaN stays NaN). */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /**
     * Rounds n floats of src from srcOff to bfloat16 (nearest, ties to even; NaN stays NaN), written as little-endian
     * 16-bit words into dst from byte dstByteOff: the same bits as {@link #floatToBf16(float)} element by element.
     */
    public static void floatToBf16(float[] src, int srcOff, MemorySegment dst, long dstByteOff, int n) {
        int lanes = FS.length();
        int i = 0;
        for (; i <= n - lanes; i += lanes) {
            IntVector bits = FloatVector.fromArray(FS, src, srcOff + i).reinterpretAsInts();
            IntVector rounded = bits.add(bits.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7fff)).lanewise(VectorOperators.LSHR, 16);
            VectorMask<Integer> nan = bits.and(0x7fffffff).compare(VectorOperators.GT, 0x7f800000);
            if (nan.anyTrue()) {
                rounded = rounded.blend(bits.lanewise(VectorOperators.LSHR, 16).or(0x40), nan);
            }
            ((ShortVector) rounded.convertShape(VectorOperators.I2S, SS, 0)).intoMemorySegment(dst, dstByteOff + 2L * i, ByteOrder.LITTLE_ENDIAN);
        }
        for (; i < n; i++) {
            dst.set(I16_LE, dstByteOff + 2L * i, floatToBf16(src[srcOff + i]));
        }
    }

    /** One element, read from the segment at element index i. */
    public static float get(MemorySegment seg, DType dtype, long i) {
        return switch (dtype) {
            case F32 -> seg.get(F32_LE, i * 4);
            case BF16 -> bf16ToFloat(seg.get(I16_LE, i * 2));
            case F16 -> f16ToFloat(seg.get(I16_LE, i * 2));
            default -> throw new IllegalArgumentException("not a float weight type: " + dtype);
        };
    }

    /** Widens n elements starting at element index first into dst[dstOff ..]. */
    public static void toFloat(MemorySegment seg, DType dtype, long first, float[] dst, int dstOff, int n) {
        int lanes = FS.length();
        int i = 0;
        switch (dtype) {
            case F32 -> {
                for (; i <= n - lanes; i += lanes) {
                    FloatVector.fromMemorySegment(FS, seg, (first + i) * 4, ByteOrder.LITTLE_ENDIAN).intoArray(dst, dstOff + i);
                }
                for (; i < n; i++) {
                    dst[dstOff + i] = seg.get(F32_LE, (first + i) * 4);
                }
            }
            case BF16 -> {
                for (; i <= n - lanes; i += lanes) {
                    bf16Vector(seg, (first + i) * 2).intoArray(dst, dstOff + i);
                }
                for (; i < n; i++) {
                    dst[dstOff + i] = bf16ToFloat(seg.get(I16_LE, (first + i) * 2));
                }
            }
            case F16 -> {
                for (; i <= n - lanes; i += lanes) {
                    f16Vector(seg, (first + i) * 2).intoArray(dst, dstOff + i);
                }
                for (; i < n; i++) {
                    dst[dstOff + i] = f16ToFloat(seg.get(I16_LE, (first + i) * 2));
                }
            }
            default -> throw new IllegalArgumentException("not a float weight type: " + dtype);
        }
    }

    /** Widens n bfloat16 values of src (raw bits) from srcOff into dst[dstOff ..]. */
    public static void bf16ToFloat(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        int lanes = FS.length();
        int i = 0;
        for (; i <= n - lanes; i += lanes) {
            ((IntVector) ShortVector.fromArray(SS, src, srcOff + i).convertShape(VectorOperators.S2I, IS, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = bf16ToFloat(src[srcOff + i]);
        }
    }

    /** FS.length() BF16 values at byteOffset, widened. */
    static FloatVector bf16Vector(MemorySegment seg, long byteOffset) {
        ShortVector s = ShortVector.fromMemorySegment(SS, seg, byteOffset, ByteOrder.LITTLE_ENDIAN);
        return ((IntVector) s.convertShape(VectorOperators.S2I, IS, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** FS.length() F16 values at byteOffset, widened. */
    static FloatVector f16Vector(MemorySegment seg, long byteOffset) {
        ShortVector s = ShortVector.fromMemorySegment(SS, seg, byteOffset, ByteOrder.LITTLE_ENDIAN);
        IntVector h = (IntVector) s.convertShape(VectorOperators.S2I, IS, 0);
        IntVector magnitude = h.and(0x7fff);
        IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        FloatVector abs = magnitude.lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats().mul(TWO_POW_112);
        IntVector bits = abs.reinterpretAsInts();
        VectorMask<Integer> infOrNan = magnitude.compare(VectorOperators.GE, 0x7c00);
        if (infOrNan.anyTrue()) {
            bits = bits.blend(magnitude.lanewise(VectorOperators.LSHL, 13).or(0x7f800000), infOrNan);
        }
        return bits.or(sign).reinterpretAsFloats();
    }
}
