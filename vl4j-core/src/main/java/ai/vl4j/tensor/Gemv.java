package ai.vl4j.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix-vector products for decode, bound by memory bandwidth: out[b, r] = W[r]·x_b (+ bias[r]) for any number
 * of vectors x_b (one sequence, or a batch of sequences sharing one pass over the weights), with W stored in
 * BF16, F16 or F32.
 *
 * <p>Every (row, vector) is summed in one order, whichever kernel serves it and whatever else is in the batch:
 * <pre>
 *   acc = 0 (LANES lanes);   per block c of 2·LANES weights:  acc = odd_c·xo_c + (even_c·xe_c + acc)   (two FMAs)
 *   s = sumLanes(acc)   (a fixed tree, {@link VectorMath#sumLanes});   s += W[r, j]·x[j] for the tail j, in order
 *   out = s + bias[r]   (or s without a bias)
 * </pre>
 * The kernels differ only in how many rows and vectors they carry at once (their register tile: 4 rows × 1
 * vector for one sequence, 2 rows × up to 4 vectors for a batch, 2 × 8 where the host has 32 vector registers),
 * never in that order, so a sequence's result is bit-identical decoded alone or in a batch of any size.
 *
 * <p>16-bit weights are read as 32-bit words, two weights per word, so widening costs one shift or one mask
 * per vector instead of a cross-lane conversion:
 * <pre>
 *   word = w[2j+1] ‖ w[2j]   (little-endian)
 *   BF16:  float(w[2j]) = bits(word << 16),   float(w[2j+1]) = bits(word & 0xFFFF0000)
 *   F16:   h = word & 0xFFFF  or  word >>> 16,   float = bits((h & 0x7FFF) << 13)·2^112 | sign   (finite weights)
 * </pre>
 * so x is first split into its even and odd elements per block ("deinterleaved"): even_c are a block's
 * even-indexed weights, odd_c its odd-indexed ones. For float32 weights even_c and odd_c are simply the block's
 * first and second LANES weights, and x is copied as it is.
 */
final class Gemv {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, FS.vectorShape());
    private static final int LANES = FS.length();
    static final int BLOCK = 2 * LANES;                  // weights per block (a 32-bit-word vector of 16-bit weights)
    private static final float TWO_POW_112 = 0x1p112f;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ThreadLocal<float[]> VECTORS = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> SUMS = ThreadLocal.withInitial(() -> new float[2 * GemvBatch.VECTORS]);

    private Gemv() {
    }

    /** Rows per parallel chunk: enough work (32k weights) to be worth a hand-off. */
    static int grain(int k) {
        return Math.max(16, (1 << 15) / Math.max(1, k));
    }

    /**
     * The n vectors as the kernels read them: vector b at [b·len, (b+1)·len), len = k rounded down to whole blocks,
     * deinterleaved per block for 16-bit weights, copied for F32; zeros after the last, to a whole group of
     * {@link GemvBatch#VECTORS} (its tile reads them). A buffer of the calling thread, reused from call to call (no
     * allocation per token); valid until this thread's next call.
     */
    static float[] prepare(float[] x, int n, int k, DType dtype) {
        int len = k / BLOCK * BLOCK;
        int padded = (n + GemvBatch.VECTORS - 1) / GemvBatch.VECTORS * GemvBatch.VECTORS;
        float[] xd = VECTORS.get();
        if (xd.length < padded * len) {
            xd = new float[padded * len];
            VECTORS.set(xd);
        }
        for (int b = 0; b < n; b++) {
            if (dtype == DType.F32) {
                System.arraycopy(x, b * k, xd, b * len, len);
            } else {
                deinterleave(x, b * k, k, xd, b * len);
            }
        }
        Arrays.fill(xd, n * len, padded * len, 0f);
        return xd;
    }

    /** Output rows [lo, hi) of out[b·m + r] = W[r]·x_b (+ bias[r]) for b < n, with xd from {@link #prepare}. */
    static void rows(float[] x, int n, int k, Tensor w, float[] bias, float[] out, int m, float[] xd, int lo, int hi) {
        MemorySegment seg = w.data();
        DType dtype = w.dtype();
        int blocks = k / BLOCK;
        int len = blocks * BLOCK;
        long rowBytes = (long) k * dtype.size;
        float[] sums = SUMS.get();
        int r = lo;
        if (n == 1) {                                    // decode of one sequence: the hottest loop
            for (; r + 4 <= hi; r += 4) {
                quad(seg, dtype, r * rowBytes, rowBytes, xd, blocks, sums);
                for (int i = 0; i < 4; i++) {
                    finish(sums[i], x, 0, k, len, w, r + i, bias, out, m);
                }
            }
        }
        for (; r < hi; r += 2) {                         // two rows at a time; an odd last row paired with itself
            int r1 = Math.min(r + 1, hi - 1);
            int b = 0;
            if (GemvBatch.FITS) {
                for (; n - b > 4; b += GemvBatch.VECTORS) {
                    GemvBatch.pair(seg, dtype, r * rowBytes, r1 * rowBytes, xd, b * len, len, blocks, sums);
                    for (int v = b; v < Math.min(n, b + GemvBatch.VECTORS); v++) {
                        finish(sums[v - b], x, v, k, len, w, r, bias, out, m);
                        finish(sums[GemvBatch.VECTORS + v - b], x, v, k, len, w, r1, bias, out, m);
                    }
                }
            }
            for (; b < n; b += 4) {
                int vectors = Math.min(4, n - b);
                tile(seg, dtype, r * rowBytes, r1 * rowBytes, xd, b * len, len, vectors, blocks, sums);
                for (int v = 0; v < vectors; v++) {
                    finish(sums[v], x, b + v, k, len, w, r, bias, out, m);
                    finish(sums[4 + v], x, b + v, k, len, w, r1, bias, out, m);
                }
            }
        }
    }

    /** The tail of row r against vector b, in order, and the bias: out[b·m + r]. */
    private static void finish(float s, float[] x, int b, int k, int len, Tensor w, int r, float[] bias, float[] out, int m) {
        for (int j = len; j < k; j++) {
            s += Widen.get(w.data(), w.dtype(), (long) r * k + j) * x[b * k + j];
        }
        out[b * m + r] = bias == null ? s : s + bias[r];
    }

    /**
     * Four rows (from byte rowByte, rowBytes apart) against one vector: four independent chains hide the FMA
     * latency. sums[i] = row i's lanes summed.
     */
    private static void quad(MemorySegment seg, DType dtype, long rowByte, long rowBytes, float[] xd, int blocks, float[] sums) {
        boolean f32 = dtype == DType.F32;
        boolean bf16 = dtype == DType.BF16;
        long r0 = rowByte, r1 = rowByte + rowBytes, r2 = rowByte + 2 * rowBytes, r3 = rowByte + 3 * rowBytes;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < blocks; c++) {
            int e = c * BLOCK;
            FloatVector xe = FloatVector.fromArray(FS, xd, e);
            FloatVector xo = FloatVector.fromArray(FS, xd, e + LANES);
            long at = (long) e * (f32 ? 4 : 2);
            if (f32) {
                a0 = FloatVector.fromMemorySegment(FS, seg, r0 + at + 4L * LANES, LE).fma(xo, FloatVector.fromMemorySegment(FS, seg, r0 + at, LE).fma(xe, a0));
                a1 = FloatVector.fromMemorySegment(FS, seg, r1 + at + 4L * LANES, LE).fma(xo, FloatVector.fromMemorySegment(FS, seg, r1 + at, LE).fma(xe, a1));
                a2 = FloatVector.fromMemorySegment(FS, seg, r2 + at + 4L * LANES, LE).fma(xo, FloatVector.fromMemorySegment(FS, seg, r2 + at, LE).fma(xe, a2));
                a3 = FloatVector.fromMemorySegment(FS, seg, r3 + at + 4L * LANES, LE).fma(xo, FloatVector.fromMemorySegment(FS, seg, r3 + at, LE).fma(xe, a3));
            } else {
                IntVector w0 = IntVector.fromMemorySegment(IS, seg, r0 + at, LE);
                IntVector w1 = IntVector.fromMemorySegment(IS, seg, r1 + at, LE);
                IntVector w2 = IntVector.fromMemorySegment(IS, seg, r2 + at, LE);
                IntVector w3 = IntVector.fromMemorySegment(IS, seg, r3 + at, LE);
                a0 = odds(w0, bf16).fma(xo, evens(w0, bf16).fma(xe, a0));
                a1 = odds(w1, bf16).fma(xo, evens(w1, bf16).fma(xe, a1));
                a2 = odds(w2, bf16).fma(xo, evens(w2, bf16).fma(xe, a2));
                a3 = odds(w3, bf16).fma(xo, evens(w3, bf16).fma(xe, a3));
            }
        }
        sums[0] = VectorMath.sumLanes(a0);
        sums[1] = VectorMath.sumLanes(a1);
        sums[2] = VectorMath.sumLanes(a2);
        sums[3] = VectorMath.sumLanes(a3);
    }

    /**
     * Two rows (byte offsets r0, r1) against `vectors` (1..4) vectors of xd from x0, len apart: 8 accumulators,
     * the widened weights and the two halves of x fit AVX2's 16 registers. sums[row·4 + v].
     */
    private static void tile(MemorySegment seg, DType dtype, long r0, long r1, float[] xd, int x0, int len, int vectors,
                             int blocks, float[] sums) {
        boolean f32 = dtype == DType.F32;
        boolean bf16 = dtype == DType.BF16;
        int x1 = x0 + len, x2 = x0 + 2 * len, x3 = x0 + 3 * len;
        FloatVector c00 = FloatVector.zero(FS), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        for (int c = 0; c < blocks; c++) {
            int e = c * BLOCK;
            FloatVector e0, o0, e1, o1;
            if (f32) {
                long at = 4L * e;
                e0 = FloatVector.fromMemorySegment(FS, seg, r0 + at, LE);
                o0 = FloatVector.fromMemorySegment(FS, seg, r0 + at + 4L * LANES, LE);
                e1 = FloatVector.fromMemorySegment(FS, seg, r1 + at, LE);
                o1 = FloatVector.fromMemorySegment(FS, seg, r1 + at + 4L * LANES, LE);
            } else {
                IntVector w0 = IntVector.fromMemorySegment(IS, seg, r0 + 2L * e, LE);
                IntVector w1 = IntVector.fromMemorySegment(IS, seg, r1 + 2L * e, LE);
                e0 = evens(w0, bf16);
                o0 = odds(w0, bf16);
                e1 = evens(w1, bf16);
                o1 = odds(w1, bf16);
            }
            FloatVector xe = FloatVector.fromArray(FS, xd, x0 + e);
            FloatVector xo = FloatVector.fromArray(FS, xd, x0 + e + LANES);
            c00 = o0.fma(xo, e0.fma(xe, c00));
            c10 = o1.fma(xo, e1.fma(xe, c10));
            if (vectors > 1) {
                xe = FloatVector.fromArray(FS, xd, x1 + e);
                xo = FloatVector.fromArray(FS, xd, x1 + e + LANES);
                c01 = o0.fma(xo, e0.fma(xe, c01));
                c11 = o1.fma(xo, e1.fma(xe, c11));
                if (vectors > 2) {
                    xe = FloatVector.fromArray(FS, xd, x2 + e);
                    xo = FloatVector.fromArray(FS, xd, x2 + e + LANES);
                    c02 = o0.fma(xo, e0.fma(xe, c02));
                    c12 = o1.fma(xo, e1.fma(xe, c12));
                    if (vectors > 3) {
                        xe = FloatVector.fromArray(FS, xd, x3 + e);
                        xo = FloatVector.fromArray(FS, xd, x3 + e + LANES);
                        c03 = o0.fma(xo, e0.fma(xe, c03));
                        c13 = o1.fma(xo, e1.fma(xe, c13));
                    }
                }
            }
        }
        sums[0] = VectorMath.sumLanes(c00);
        sums[1] = VectorMath.sumLanes(c01);
        sums[2] = VectorMath.sumLanes(c02);
        sums[3] = VectorMath.sumLanes(c03);
        sums[4] = VectorMath.sumLanes(c10);
        sums[5] = VectorMath.sumLanes(c11);
        sums[6] = VectorMath.sumLanes(c12);
        sums[7] = VectorMath.sumLanes(c13);
    }

    /**
     * x[off, off + k) into d from dOff: per block of BLOCK elements, its even elements, then its odd ones (only
     * the vectorised part, k rounded down to whole blocks).
     */
    static void deinterleave(float[] x, int off, int k, float[] d, int dOff) {
        int blocks = k / BLOCK;
        for (int c = 0; c < blocks; c++) {
            for (int j = 0; j < LANES; j++) {
                d[dOff + c * BLOCK + j] = x[off + c * BLOCK + 2 * j];
                d[dOff + c * BLOCK + LANES + j] = x[off + c * BLOCK + 2 * j + 1];
            }
        }
    }

    /** Widened even-indexed weights of a vector of weight pairs. */
    static FloatVector evens(IntVector word, boolean bf16) {
        return bf16 ? word.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats() : f16(word.and(0xFFFF));
    }

    /** Widened odd-indexed weights of a vector of weight pairs. */
    static FloatVector odds(IntVector word, boolean bf16) {
        return bf16 ? word.and(0xFFFF0000).reinterpretAsFloats() : f16(word.lanewise(VectorOperators.LSHR, 16));
    }

    /** F16 bits in the low half of each int lane to float (finite values: normal and subnormal). */
    private static FloatVector f16(IntVector h) {
        FloatVector magnitude = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats().mul(TWO_POW_112);
        return magnitude.reinterpretAsInts().or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }
}
