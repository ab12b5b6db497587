package ai.vl4j.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Gemv}'s widest register tile: two weight rows against eight vectors (a batch of decoded sequences) per
 * step, so each loaded vector of x feeds four FMAs: 16 accumulators + 4 widened weight vectors + 2 of x, which fit
 * where the host has 32 vector registers (AVX-512), not AVX2's 16 ({@link #FITS}). Every (row, vector) is summed
 * in {@link Gemv}'s one order. Generated loop body: every accumulator is its own local (C2 would box an array of
 * vectors).
 */
final class GemvBatch {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, FS.vectorShape());
    private static final int LANES = FS.length();
    private static final int BLOCK = 2 * LANES;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Vectors per tile. */
    static final int VECTORS = 8;
    /**
     * Whether the tile fits the host's registers: x86 hosts with 512-bit vectors (AVX-512) have 32; with 256-bit
     * ones (AVX2) 16. (The Vector API does not say how many registers there are; the vector width is the proxy.)
     * The system property {@code vl4j.gemv.tile8=true} takes it anyway, so that tests check it on any host.
     */
    static final boolean FITS = LANES >= 16 || Boolean.getBoolean("vl4j.gemv.tile8");

    private GemvBatch() {
    }

    /** Two rows (byte offsets r0, r1) against the 8 prepared vectors of xd from x0, len apart; sums[row·8 + v]. */
    static void pair(MemorySegment seg, DType dtype, long r0, long r1, float[] xd, int x0, int len, int blocks, float[] sums) {
        boolean f32 = dtype == DType.F32;
        boolean bf16 = dtype == DType.BF16;
        FloatVector c00 = FloatVector.zero(FS);
        FloatVector c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00, c06 = c00, c07 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00, c15 = c00, c16 = c00, c17 = c00;
        for (int c = 0; c < blocks; c++) {
            int e = c * BLOCK;
            FloatVector e0, o0, e1, o1;
            if (f32) {
                e0 = FloatVector.fromMemorySegment(FS, seg, r0 + 4L * e, LE);
                o0 = FloatVector.fromMemorySegment(FS, seg, r0 + 4L * (e + LANES), LE);
                e1 = FloatVector.fromMemorySegment(FS, seg, r1 + 4L * e, LE);
                o1 = FloatVector.fromMemorySegment(FS, seg, r1 + 4L * (e + LANES), LE);
            } else {
                IntVector w0 = IntVector.fromMemorySegment(IS, seg, r0 + 2L * e, LE);
                IntVector w1 = IntVector.fromMemorySegment(IS, seg, r1 + 2L * e, LE);
                e0 = Gemv.evens(w0, bf16);
                o0 = Gemv.odds(w0, bf16);
                e1 = Gemv.evens(w1, bf16);
                o1 = Gemv.odds(w1, bf16);
            }
            e += x0;
            FloatVector xe, xo;
            xe = FloatVector.fromArray(FS, xd, e);
            xo = FloatVector.fromArray(FS, xd, e + LANES);
            c00 = o0.fma(xo, e0.fma(xe, c00));
            c10 = o1.fma(xo, e1.fma(xe, c10));
            xe = FloatVector.fromArray(FS, xd, 1 * len + e);
            xo = FloatVector.fromArray(FS, xd, 1 * len + e + LANES);
            c01 = o0.fma(xo, e0.fma(xe, c01));
            c11 = o1.fma(xo, e1.fma(xe, c11));
            xe = FloatVector.fromArray(FS, xd, 2 * len + e);
            xo = FloatVector.fromArray(FS, xd, 2 * len + e + LANES);
            c02 = o0.fma(xo, e0.fma(xe, c02));
            c12 = o1.fma(xo, e1.fma(xe, c12));
            xe = FloatVector.fromArray(FS, xd, 3 * len + e);
            xo = FloatVector.fromArray(FS, xd, 3 * len + e + LANES);
            c03 = o0.fma(xo, e0.fma(xe, c03));
            c13 = o1.fma(xo, e1.fma(xe, c13));
            xe = FloatVector.fromArray(FS, xd, 4 * len + e);
            xo = FloatVector.fromArray(FS, xd, 4 * len + e + LANES);
            c04 = o0.fma(xo, e0.fma(xe, c04));
            c14 = o1.fma(xo, e1.fma(xe, c14));
            xe = FloatVector.fromArray(FS, xd, 5 * len + e);
            xo = FloatVector.fromArray(FS, xd, 5 * len + e + LANES);
            c05 = o0.fma(xo, e0.fma(xe, c05));
            c15 = o1.fma(xo, e1.fma(xe, c15));
            xe = FloatVector.fromArray(FS, xd, 6 * len + e);
            xo = FloatVector.fromArray(FS, xd, 6 * len + e + LANES);
            c06 = o0.fma(xo, e0.fma(xe, c06));
            c16 = o1.fma(xo, e1.fma(xe, c16));
            xe = FloatVector.fromArray(FS, xd, 7 * len + e);
            xo = FloatVector.fromArray(FS, xd, 7 * len + e + LANES);
            c07 = o0.fma(xo, e0.fma(xe, c07));
            c17 = o1.fma(xo, e1.fma(xe, c17));
        }
        sums[0] = VectorMath.sumLanes(c00);
        sums[1] = VectorMath.sumLanes(c01);
        sums[2] = VectorMath.sumLanes(c02);
        sums[3] = VectorMath.sumLanes(c03);
        sums[4] = VectorMath.sumLanes(c04);
        sums[5] = VectorMath.sumLanes(c05);
        sums[6] = VectorMath.sumLanes(c06);
        sums[7] = VectorMath.sumLanes(c07);
        sums[8] = VectorMath.sumLanes(c10);
        sums[9] = VectorMath.sumLanes(c11);
        sums[10] = VectorMath.sumLanes(c12);
        sums[11] = VectorMath.sumLanes(c13);
        sums[12] = VectorMath.sumLanes(c14);
        sums[13] = VectorMath.sumLanes(c15);
        sums[14] = VectorMath.sumLanes(c16);
        sums[15] = VectorMath.sumLanes(c17);
    }
}
