package ai.vl4j.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Batched decode with 16-bit weights (BF16/F16): out[b, r] = W[r]·x_b for 2..8 vectors, one pass over the
 * weights. Two weight rows are processed together so each loaded x vector feeds four FMAs (16 accumulators:
 * 2 rows × 8 vectors); weights are widened in registers as in {@link Gemv}. Generated loop bodies: every
 * accumulator is its own local (C2 would box an array of vectors).
 */
final class GemvBatch {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, FS.vectorShape());
    private static final int LANES = FS.length();
    private static final int BLOCK = 2 * LANES;
    static final int MAX = 8;
    private static final ThreadLocal<float[]> VECTORS = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> SUMS = ThreadLocal.withInitial(() -> new float[2 * MAX]);

    private GemvBatch() {
    }

    /**
     * The vectors as {@link #pair} reads them: each deinterleaved as in {@link Gemv}, vector b at b·len
     * (len = k rounded down to whole blocks), the unused ones zero. A buffer of the calling thread, reused from
     * call to call (no allocation per token); valid until this thread's next call.
     */
    static float[] prepare(float[] x, int n, int k, DType dtype) {
        if (n < 2 || n > MAX || dtype == DType.F32) {
            throw new IllegalArgumentException("batched GEMV takes 2.." + MAX + " vectors and 16-bit weights");
        }
        int len = k / BLOCK * BLOCK;
        float[] xd = VECTORS.get();
        if (xd.length < MAX * len) {
            xd = new float[MAX * len];
            VECTORS.set(xd);
        }
        for (int b = 0; b < n; b++) {
            Gemv.deinterleave(x, b * k, k, xd, b * len);
        }
        Arrays.fill(xd, n * len, MAX * len, 0f);
        return xd;
    }

    /**
     * Output rows [lo, hi) of out[b·m + r] = W[r]·x_b (+ bias[r]) for b < n (2..MAX), two at a time (an odd last row
     * is paired with itself), with xd from {@link #prepare}.
     */
    static void rows(float[] x, int n, int k, Tensor w, float[] bias, float[] out, int m, float[] xd, int lo, int hi) {
        boolean bf16 = w.dtype() == DType.BF16;
        MemorySegment seg = w.data();
        int blocks = k / BLOCK;
        int len = blocks * BLOCK;
        float[] sums = SUMS.get();
        for (int r0 = lo; r0 < hi; r0 += 2) {
            int r1 = Math.min(r0 + 1, hi - 1);
            pair(seg, bf16, (long) r0 * k * 2, (long) r1 * k * 2, xd, len, blocks, sums);
            for (int r = r0; r <= r1; r++) {
                int which = r - r0;
                for (int b = 0; b < n; b++) {
                    float s = sums[which * MAX + b];
                    for (int j = len; j < k; j++) {          // tail
                        s += Widen.get(seg, w.dtype(), (long) r * k + j) * x[b * k + j];
                    }
                    out[b * m + r] = s + (bias == null ? 0f : bias[r]);
                }
            }
        }
    }

    /** Two rows (byte offsets r0, r1) against all MAX deinterleaved vectors; sums[row·MAX + b]. */
    private static void pair(MemorySegment seg, boolean bf16, long r0, long r1, float[] xd, int len, int blocks, float[] sums) {
        FloatVector c00 = FloatVector.zero(FS);
        FloatVector c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00, c06 = c00, c07 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00, c15 = c00, c16 = c00, c17 = c00;
        for (int c = 0; c < blocks; c++) {
            IntVector w0 = IntVector.fromMemorySegment(IS, seg, r0 + (long) c * BLOCK * 2, ByteOrder.LITTLE_ENDIAN);
            IntVector w1 = IntVector.fromMemorySegment(IS, seg, r1 + (long) c * BLOCK * 2, ByteOrder.LITTLE_ENDIAN);
            FloatVector e0 = Gemv.evens(w0, bf16), o0 = Gemv.odds(w0, bf16), e1 = Gemv.evens(w1, bf16), o1 = Gemv.odds(w1, bf16);
            int e = c * BLOCK;
            FloatVector xe, xo;
            xe = FloatVector.fromArray(FS, xd, e);
            xo = FloatVector.fromArray(FS, xd, 0 + e + LANES);
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
        sums[0] = c00.reduceLanes(VectorOperators.ADD);
        sums[1] = c01.reduceLanes(VectorOperators.ADD);
        sums[2] = c02.reduceLanes(VectorOperators.ADD);
        sums[3] = c03.reduceLanes(VectorOperators.ADD);
        sums[4] = c04.reduceLanes(VectorOperators.ADD);
        sums[5] = c05.reduceLanes(VectorOperators.ADD);
        sums[6] = c06.reduceLanes(VectorOperators.ADD);
        sums[7] = c07.reduceLanes(VectorOperators.ADD);
        sums[8] = c10.reduceLanes(VectorOperators.ADD);
        sums[9] = c11.reduceLanes(VectorOperators.ADD);
        sums[10] = c12.reduceLanes(VectorOperators.ADD);
        sums[11] = c13.reduceLanes(VectorOperators.ADD);
        sums[12] = c14.reduceLanes(VectorOperators.ADD);
        sums[13] = c15.reduceLanes(VectorOperators.ADD);
        sums[14] = c16.reduceLanes(VectorOperators.ADD);
        sums[15] = c17.reduceLanes(VectorOperators.ADD);
    }
}
