package ai.vl4j.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decode products with {@link QuantizedTensor} weights: out[b, r] = Σ_blocks d·Σ_j q_j·x_b[j] for up to 4
 * vectors per pass over the weights. Per block of 32, the quantized values are widened in registers
 * (signed bytes → float for Q8_0; two nibbles per byte, re-centred by −8, for Q4_0), scaled by the block's d
 * and accumulated with FMAs; nothing is dequantized to memory. Each memory access has a fixed cost, so Q8_0
 * reads two blocks (64 bytes) per access; Q4_0 reads one block's 16 bytes and widens them to ints (byte-lane
 * shifts are costly on x86). Measured on 2 Zen 5 cores, lm_head-sized: Q8_0 ≈ 35–43, Q4_0 ≈ 45, BF16 ≈ 22–28
 * G weights/s.
 */
final class QuantGemv {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, FS.vectorShape());
    private static final int LANES = FS.length();
    private static final VectorSpecies<Byte> BYTES_1 = VectorSpecies.of(byte.class, VectorShape.forBitSize(LANES * 8));
    private static final VectorSpecies<Byte> BYTES_2 = VectorSpecies.of(byte.class, VectorShape.forBitSize(LANES * 16));
    private static final int BLOCK = QuantType.BLOCK;
    private static final ThreadLocal<float[]> SCALES = ThreadLocal.withInitial(() -> new float[0]);

    private QuantGemv() {
    }

    static void multiply(float[] x, int n, int k, QuantizedTensor w, int m, float[] bias, float[] out) {
        Parallel.forRange(0, m, Gemv.grain(k), (lo, hi) -> rows(x, n, k, w, m, bias, out, lo, hi));
    }

    /** Output rows [lo, hi) of {@link #multiply}. */
    static void rows(float[] x, int n, int k, QuantizedTensor w, int m, float[] bias, float[] out, int lo, int hi) {
        if (LANES > 16 || BLOCK % (2 * LANES) != 0) {
            throw new IllegalStateException("quantized kernels assume 4, 8 or 16 float lanes, not " + LANES);
        }
        int blocks = QuantType.blocks(k);
        float[] d = SCALES.get();
        if (d.length < blocks) {
            d = new float[blocks];
            SCALES.set(d);
        }
        float[] sums = new float[4];
        for (int r = lo; r < hi; r++) {
            Widen.toFloat(w.scales(), DType.F16, (long) r * blocks, d, 0, blocks);   // the row's scales, once
            if (w.type() == QuantType.Q8_0) {
                rowQ8(x, n, k, w, r, d, sums);
            } else {
                rowQ4(x, n, k, w, r, d, sums);
            }
            tail(x, n, k, w, r, d, sums);
            float b = bias == null ? 0f : bias[r];
            for (int i = 0; i < n; i++) {
                out[i * m + r] = sums[i] + b;
            }
        }
    }

    private static void rowQ8(float[] x, int n, int k, QuantizedTensor w, int r, float[] d, float[] sums) {
        MemorySegment q = w.quants();
        int full = k / BLOCK;
        long qRow = r * w.type().rowBytes(k);
        int x1 = k, x2 = 2 * k, x3 = 3 * k;
        FloatVector a0 = FloatVector.zero(FS), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
        int blk = 0;
        for (; LANES == 16 && blk + 1 < full; blk += 2) {
            // two blocks in one 64-byte access, widened in four parts
            ByteVector bytes = ByteVector.fromMemorySegment(ByteVector.SPECIES_512, q, qRow + (long) blk * BLOCK, ByteOrder.LITTLE_ENDIAN);
            FloatVector d0 = FloatVector.broadcast(FS, d[blk]);
            FloatVector d1 = FloatVector.broadcast(FS, d[blk + 1]);
            FloatVector w0 = ((FloatVector) bytes.convertShape(VectorOperators.B2F, FS, 0)).mul(d0);
            FloatVector w1 = ((FloatVector) bytes.convertShape(VectorOperators.B2F, FS, 1)).mul(d0);
            FloatVector w2 = ((FloatVector) bytes.convertShape(VectorOperators.B2F, FS, 2)).mul(d1);
            FloatVector w3 = ((FloatVector) bytes.convertShape(VectorOperators.B2F, FS, 3)).mul(d1);
            int xb = blk * BLOCK;
            if (n == 1) {                     // four independent chains hide the FMA latency
                a0 = w0.fma(FloatVector.fromArray(FS, x, xb), a0);
                b0 = w1.fma(FloatVector.fromArray(FS, x, xb + LANES), b0);
                a1 = w2.fma(FloatVector.fromArray(FS, x, xb + 2 * LANES), a1);
                b1 = w3.fma(FloatVector.fromArray(FS, x, xb + 3 * LANES), b1);
                continue;
            }
            a0 = w2.fma(FloatVector.fromArray(FS, x, xb + 2 * LANES), w0.fma(FloatVector.fromArray(FS, x, xb), a0));
            b0 = w3.fma(FloatVector.fromArray(FS, x, xb + 3 * LANES), w1.fma(FloatVector.fromArray(FS, x, xb + LANES), b0));
            a1 = w2.fma(FloatVector.fromArray(FS, x, x1 + xb + 2 * LANES), w0.fma(FloatVector.fromArray(FS, x, x1 + xb), a1));
            b1 = w3.fma(FloatVector.fromArray(FS, x, x1 + xb + 3 * LANES), w1.fma(FloatVector.fromArray(FS, x, x1 + xb + LANES), b1));
            if (n > 2) {
                a2 = w2.fma(FloatVector.fromArray(FS, x, x2 + xb + 2 * LANES), w0.fma(FloatVector.fromArray(FS, x, x2 + xb), a2));
                b2 = w3.fma(FloatVector.fromArray(FS, x, x2 + xb + 3 * LANES), w1.fma(FloatVector.fromArray(FS, x, x2 + xb + LANES), b2));
                if (n > 3) {
                    a3 = w2.fma(FloatVector.fromArray(FS, x, x3 + xb + 2 * LANES), w0.fma(FloatVector.fromArray(FS, x, x3 + xb), a3));
                    b3 = w3.fma(FloatVector.fromArray(FS, x, x3 + xb + 3 * LANES), w1.fma(FloatVector.fromArray(FS, x, x3 + xb + LANES), b3));
                }
            }
        }
        if (n == 1) {
            a0 = a0.add(a1);
            b0 = b0.add(b1);
            a1 = FloatVector.zero(FS);
            b1 = a1;
        }
        for (; blk < full; blk++) {
            FloatVector dv = FloatVector.broadcast(FS, d[blk]);
            long qb = qRow + (long) blk * BLOCK;
            int xb = blk * BLOCK;
            for (int c = 0; c < BLOCK; c += 2 * LANES) {
                ByteVector bytes = ByteVector.fromMemorySegment(BYTES_2, q, qb + c, ByteOrder.LITTLE_ENDIAN);
                FloatVector lo = ((FloatVector) bytes.convertShape(VectorOperators.B2F, FS, 0)).mul(dv);
                FloatVector hi = ((FloatVector) bytes.convertShape(VectorOperators.B2F, FS, 1)).mul(dv);
                int e = xb + c;
                int o = e + LANES;
                a0 = lo.fma(FloatVector.fromArray(FS, x, e), a0);
                b0 = hi.fma(FloatVector.fromArray(FS, x, o), b0);
                if (n > 1) {
                    a1 = lo.fma(FloatVector.fromArray(FS, x, x1 + e), a1);
                    b1 = hi.fma(FloatVector.fromArray(FS, x, x1 + o), b1);
                    if (n > 2) {
                        a2 = lo.fma(FloatVector.fromArray(FS, x, x2 + e), a2);
                        b2 = hi.fma(FloatVector.fromArray(FS, x, x2 + o), b2);
                        if (n > 3) {
                            a3 = lo.fma(FloatVector.fromArray(FS, x, x3 + e), a3);
                            b3 = hi.fma(FloatVector.fromArray(FS, x, x3 + o), b3);
                        }
                    }
                }
            }
        }
        // reductions stay in this method: a vector passed to a method C2 does not inline is boxed
        sums[0] = a0.add(b0).reduceLanes(VectorOperators.ADD);
        sums[1] = a1.add(b1).reduceLanes(VectorOperators.ADD);
        sums[2] = a2.add(b2).reduceLanes(VectorOperators.ADD);
        sums[3] = a3.add(b3).reduceLanes(VectorOperators.ADD);
    }

    private static void rowQ4(float[] x, int n, int k, QuantizedTensor w, int r, float[] d, float[] sums) {
        MemorySegment q = w.quants();
        int full = k / BLOCK;
        long qRow = r * w.type().rowBytes(k);
        int x1 = k, x2 = 2 * k, x3 = 3 * k;
        FloatVector a0 = FloatVector.zero(FS), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
        for (int blk = 0; blk < full; blk++) {
            FloatVector dv = FloatVector.broadcast(FS, d[blk]);
            long qb = qRow + (long) blk * (BLOCK / 2);
            int xb = blk * BLOCK;
            for (int c = 0; c < BLOCK / 2; c += LANES) {
                IntVector packed = (IntVector) ByteVector.fromMemorySegment(BYTES_1, q, qb + c, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, IS, 0);
                FloatVector lo = ((FloatVector) packed.and(0xF).sub(8).convert(VectorOperators.I2F, 0)).mul(dv);
                FloatVector hi = ((FloatVector) packed.lanewise(VectorOperators.ASHR, 4).and(0xF).sub(8)
                        .convert(VectorOperators.I2F, 0)).mul(dv);
                int e = xb + c;                      // low nibbles: elements c ..
                int o = xb + BLOCK / 2 + c;          // high nibbles: elements 16 + c ..
                a0 = lo.fma(FloatVector.fromArray(FS, x, e), a0);
                b0 = hi.fma(FloatVector.fromArray(FS, x, o), b0);
                if (n > 1) {
                    a1 = lo.fma(FloatVector.fromArray(FS, x, x1 + e), a1);
                    b1 = hi.fma(FloatVector.fromArray(FS, x, x1 + o), b1);
                    if (n > 2) {
                        a2 = lo.fma(FloatVector.fromArray(FS, x, x2 + e), a2);
                        b2 = hi.fma(FloatVector.fromArray(FS, x, x2 + o), b2);
                        if (n > 3) {
                            a3 = lo.fma(FloatVector.fromArray(FS, x, x3 + e), a3);
                            b3 = hi.fma(FloatVector.fromArray(FS, x, x3 + o), b3);
                        }
                    }
                }
            }
        }
        // reductions stay in this method: a vector passed to a method C2 does not inline is boxed
        sums[0] = a0.add(b0).reduceLanes(VectorOperators.ADD);
        sums[1] = a1.add(b1).reduceLanes(VectorOperators.ADD);
        sums[2] = a2.add(b2).reduceLanes(VectorOperators.ADD);
        sums[3] = a3.add(b3).reduceLanes(VectorOperators.ADD);
    }

    /** A short last block (rows not a multiple of 32 long): scalar. */
    private static void tail(float[] x, int n, int k, QuantizedTensor w, int r, float[] d, float[] sums) {
        int full = k / BLOCK;
        for (int j = 0; j < k - full * BLOCK; j++) {
            float wj = d[full] * w.value(r, full, j);
            int kj = full * BLOCK + j;
            for (int i = 0; i < n; i++) {
                sums[i] += wj * x[i * k + kj];
            }
        }
    }
}
