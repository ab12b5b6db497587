package ai.vl4j.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix-vector products for decode, bound by memory bandwidth: out[b, r] = W[r]·x_b (+ bias[r]) for a few
 * vectors x_b at once (one sequence, or a batch of sequences sharing one pass over the weights).
 *
 * <p>16-bit weights are read as 32-bit words, two weights per word, so widening costs one shift or one mask
 * per vector instead of a cross-lane conversion:
 * <pre>
 *   word = w[2j+1] ‖ w[2j]   (little-endian)
 *   BF16:  float(w[2j]) = bits(word << 16),   float(w[2j+1]) = bits(word & 0xFFFF0000)
 *   F16:   h = word & 0xFFFF  or  word >>> 16,   float = bits((h & 0x7FFF) << 13)·2^112 | sign   (finite weights)
 * </pre>
 * so x is first split into its even and odd elements per block of 2·LANES ("deinterleaved"), and
 * Σ_j w_j·x_j = Σ evens(w)·x_even + odds(w)·x_odd.
 */
final class Gemv {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, FS.vectorShape());
    private static final int LANES = FS.length();
    private static final int BLOCK = 2 * LANES;            // weights per 32-bit-word vector
    private static final float TWO_POW_112 = 0x1p112f;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ThreadLocal<float[][]> X_BUFFERS = ThreadLocal.withInitial(() -> new float[4][0]);

    private Gemv() {
    }

    /** Rows per parallel chunk: enough work (32k weights) to be worth a hand-off. */
    static int grain(int k) {
        return Math.max(16, (1 << 15) / Math.max(1, k));
    }

    /**
     * The vectors as the kernel reads them: deinterleaved for 16-bit weights, copied for F32, in buffers of the
     * calling thread reused from call to call (no allocation per token). Valid until this thread's next call.
     */
    static float[][] prepare(float[] x, int n, int k, DType dtype) {
        float[][] xs = X_BUFFERS.get();
        for (int b = 0; b < 4; b++) {
            if (xs[b].length < k) {
                xs[b] = new float[k];
            }
            if (b >= n) {
                continue;                                    // unused lanes of the kernel multiply these, never read
            }
            if (dtype == DType.F32) {
                System.arraycopy(x, b * k, xs[b], 0, k);
            } else {
                deinterleave(x, b * k, k, xs[b], 0);
            }
        }
        return xs;
    }

    /**
     * Output rows [lo, hi) of out[b·m + r] = Σ_j W[r, j]·x[b·k + j] (+ bias[r]) for b < n (1..4), with xs from
     * {@link #prepare}.
     */
    static void rows(float[] x, int n, int k, Tensor w, float[] bias, float[] out, int m, float[][] xs, int lo, int hi) {
        MemorySegment seg = w.data();
        DType dtype = w.dtype();
        int blocks = k / BLOCK;                              // vectorised part; the tail is scalar
        boolean bf16 = dtype == DType.BF16;
        for (int r = lo; r < hi; r++) {
            if (n == 1 && dtype != DType.F32) {              // decode of one sequence: the hottest loop
                float s = dot16(seg, (long) r * k * 2, xs[0], blocks, bf16);
                for (int j = blocks * BLOCK; j < k; j++) {
                    s += Widen.get(seg, dtype, (long) r * k + j) * x[j];
                }
                out[r] = bias == null ? s : s + bias[r];
            } else {
                row(seg, dtype, r, k, blocks, xs, x, n, bias, out, m);
            }
        }
    }

    /** One weight row against the n vectors; accumulators stay in registers (no arrays in the loop). */
    private static void row(MemorySegment seg, DType dtype, int r, int k, int blocks, float[][] xs, float[] x, int n,
                            float[] bias, float[] out, int m) {
        float[] x0 = xs[0], x1 = xs[1], x2 = xs[2], x3 = xs[3];
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        long rowByte = (long) r * k * dtype.size;
        if (dtype == DType.F32 && n == 1) {
            FloatVector c0 = FloatVector.zero(FS), c1 = c0, c2 = c0, c3 = c0;
            int j = 0;
            for (; j + 4 * LANES <= blocks * BLOCK; j += 4 * LANES) {
                c0 = FloatVector.fromMemorySegment(FS, seg, rowByte + 4L * j, LE).fma(FloatVector.fromArray(FS, x0, j), c0);
                c1 = FloatVector.fromMemorySegment(FS, seg, rowByte + 4L * (j + LANES), LE).fma(FloatVector.fromArray(FS, x0, j + LANES), c1);
                c2 = FloatVector.fromMemorySegment(FS, seg, rowByte + 4L * (j + 2 * LANES), LE).fma(FloatVector.fromArray(FS, x0, j + 2 * LANES), c2);
                c3 = FloatVector.fromMemorySegment(FS, seg, rowByte + 4L * (j + 3 * LANES), LE).fma(FloatVector.fromArray(FS, x0, j + 3 * LANES), c3);
            }
            for (; j < blocks * BLOCK; j += LANES) {
                c0 = FloatVector.fromMemorySegment(FS, seg, rowByte + 4L * j, LE).fma(FloatVector.fromArray(FS, x0, j), c0);
            }
            a0 = c0.add(c1).add(c2.add(c3));
        } else if (dtype == DType.F32) {
            for (int j = 0; j < blocks * BLOCK; j += LANES) {
                FloatVector wv = FloatVector.fromMemorySegment(FS, seg, rowByte + 4L * j, LE);
                a0 = wv.fma(FloatVector.fromArray(FS, x0, j), a0);
                if (n > 1) {
                    a1 = wv.fma(FloatVector.fromArray(FS, x1, j), a1);
                    if (n > 2) {
                        a2 = wv.fma(FloatVector.fromArray(FS, x2, j), a2);
                        if (n > 3) {
                            a3 = wv.fma(FloatVector.fromArray(FS, x3, j), a3);
                        }
                    }
                }
            }
        } else {
            // several vectors: each has its own even and odd chains; one pass over the weight row serves all
            boolean bf16 = dtype == DType.BF16;
            FloatVector b0 = FloatVector.zero(FS), b1 = b0, b2 = b0, b3 = b0;
            for (int c = 0; c < blocks; c++) {
                IntVector word = IntVector.fromMemorySegment(IS, seg, rowByte + (long) c * BLOCK * 2, LE);
                FloatVector even = evens(word, bf16);
                FloatVector odd = odds(word, bf16);
                int e = c * BLOCK;
                int o = e + LANES;
                a0 = even.fma(FloatVector.fromArray(FS, x0, e), a0);
                b0 = odd.fma(FloatVector.fromArray(FS, x0, o), b0);
                a1 = even.fma(FloatVector.fromArray(FS, x1, e), a1);
                b1 = odd.fma(FloatVector.fromArray(FS, x1, o), b1);
                if (n > 2) {
                    a2 = even.fma(FloatVector.fromArray(FS, x2, e), a2);
                    b2 = odd.fma(FloatVector.fromArray(FS, x2, o), b2);
                    if (n > 3) {
                        a3 = even.fma(FloatVector.fromArray(FS, x3, e), a3);
                        b3 = odd.fma(FloatVector.fromArray(FS, x3, o), b3);
                    }
                }
            }
            a0 = a0.add(b0);
            a1 = a1.add(b1);
            a2 = a2.add(b2);
            a3 = a3.add(b3);
        }
        float b = bias == null ? 0f : bias[r];
        float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
        for (int j = blocks * BLOCK; j < k; j++) {           // tail
            float wj = Widen.get(seg, dtype, (long) r * k + j);
            s0 += wj * x[j];
            s1 += n > 1 ? wj * x[k + j] : 0f;
            s2 += n > 2 ? wj * x[2 * k + j] : 0f;
            s3 += n > 3 ? wj * x[3 * k + j] : 0f;
        }
        out[r] = s0 + b;
        if (n > 1) {
            out[m + r] = s1 + b;
        }
        if (n > 2) {
            out[2 * m + r] = s2 + b;
        }
        if (n > 3) {
            out[3 * m + r] = s3 + b;
        }
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

    /**
     * One 16-bit weight row against one deinterleaved vector: four independent chains (two blocks × even/odd)
     * keep the FMA latency hidden. Its own small method, so C2 compiles this hottest loop of decode on its own.
     */
    private static float dot16(MemorySegment seg, long rowByte, float[] x0, int blocks, boolean bf16) {
        FloatVector e0 = FloatVector.zero(FS), o0 = e0, e1 = e0, o1 = e0;
        int c = 0;
        for (; c + 1 < blocks; c += 2) {
            IntVector w0 = IntVector.fromMemorySegment(IS, seg, rowByte + (long) c * BLOCK * 2, LE);
            IntVector w1 = IntVector.fromMemorySegment(IS, seg, rowByte + (long) (c + 1) * BLOCK * 2, LE);
            int p = c * BLOCK;
            e0 = evens(w0, bf16).fma(FloatVector.fromArray(FS, x0, p), e0);
            o0 = odds(w0, bf16).fma(FloatVector.fromArray(FS, x0, p + LANES), o0);
            e1 = evens(w1, bf16).fma(FloatVector.fromArray(FS, x0, p + BLOCK), e1);
            o1 = odds(w1, bf16).fma(FloatVector.fromArray(FS, x0, p + BLOCK + LANES), o1);
        }
        if (c < blocks) {
            IntVector w0 = IntVector.fromMemorySegment(IS, seg, rowByte + (long) c * BLOCK * 2, LE);
            e0 = evens(w0, bf16).fma(FloatVector.fromArray(FS, x0, c * BLOCK), e0);
            o0 = odds(w0, bf16).fma(FloatVector.fromArray(FS, x0, c * BLOCK + LANES), o0);
        }
        return e0.add(o0).add(e1.add(o1)).reduceLanes(VectorOperators.ADD);
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
