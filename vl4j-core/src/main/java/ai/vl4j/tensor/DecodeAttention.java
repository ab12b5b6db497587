package ai.vl4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Attention of one query row per head over transposed cached keys: the decode step. Decode reads every cached
 * key and value once per token (24 layers × 2 × positions × 2048 floats: 250 MB at 640 positions for the 1.3B
 * model), so the work is a memory stream, and the order of reads decides its speed. The blocked kernel of
 * {@link Attention} walks 64 keys across all rows of a head's Kᵀ before moving on: 128 short strided streams
 * that the prefetchers cannot follow. Here each head's Kᵀ is read row after row, four rows at a time, each row
 * from its first key to its last: long sequential streams (measured on the 1.3B shapes at 640 positions:
 * attention 11.6 → 9.0 ms a token, the score pass at about the machine's read bandwidth). The scores of all
 * keys fit in L1 (4 bytes a key), so the softmax takes two plain passes instead of the online rescaling.
 * A bfloat16 cache ({@code --kv-cache bf16}) runs the same passes with each value widened in registers; it reads
 * half the bytes (measured per layer: 258 → 179 µs at 640 positions, 893 → 558 µs at 2048).
 * <pre>
 *   s_j = scale·Σ_d q_d·Kᵀ[d, j]        d-outer: rows of Kᵀ streamed in order, s accumulated in L1
 *   p_j = exp(s_j − max s);  out = Σ_j p_j·V[j] / Σ_j p_j
 * </pre>
 */
final class DecodeAttention {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = FS.length();
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, FS.vectorShape());
    private static final VectorSpecies<Short> HALF = VectorSpecies.of(short.class, VectorShape.forBitSize(LANES * 16));
    // per thread: scratch[0] the scores of one head [padded keys], scratch[1] its output [hd]
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][] {new float[0], new float[0]});

    private DecodeAttention() {
    }

    /** out[h] = softmax(scale·q[h]·Kᵀ[g]) · V[g] over keys [0, keys), for every head h (g its kv head). */
    static void multiHead(Attention.Operand q, Attention.KeysT kT, Attention.Operand v, Attention.Operand out, int keys,
                          int nHeads, int nKvHeads, int hd, float scale) {
        eachHead(out, keys, nHeads, nKvHeads, hd, (h, g, s, padded, o) -> {
            scores(q.data(), q.offset() + h * hd, hd, scale, kT.data(), g * kT.headStride(), kT.rowStride(), s, padded);
            float sum = softmax(s, keys);
            weightedValues(s, keys, v.data(), v.offset() + g * hd, v.stride(), hd, o);
            return sum;
        });
    }

    /** {@link #multiHead} over a bfloat16 cache: the same passes, each value widened in registers (a 16-bit shift). */
    static void multiHeadBf16(Attention.Operand q, short[] kT, int headStride, int rowStride, short[] v, int vStride,
                              Attention.Operand out, int keys, int nHeads, int nKvHeads, int hd, float scale) {
        eachHead(out, keys, nHeads, nKvHeads, hd, (h, g, s, padded, o) -> {
            scoresBf16(q.data(), q.offset() + h * hd, hd, scale, kT, g * headStride, rowStride, s, padded);
            float sum = softmax(s, keys);
            weightedValuesBf16(s, keys, v, g * hd, vStride, hd, o);
            return sum;
        });
    }

    /** One head's passes: scores into s [padded], softmax, Σ p·V into o [hd]; returns the softmax's sum. */
    private interface Head {
        float attend(int h, int g, float[] s, int padded, float[] o);
    }

    /** Heads shared out over the threads, each with its thread's scratch; out[h] = o / sum. */
    private static void eachHead(Attention.Operand out, int keys, int nHeads, int nKvHeads, int hd, Head head) {
        int group = nHeads / nKvHeads;
        int padded = Attention.roundUp(keys, LANES);   // Kᵀ rows are readable to a multiple of BK, so of LANES
        Parallel.forRange(0, nHeads, 1, (lo, hi) -> {
            float[][] scratch = SCRATCH.get();
            if (scratch[0].length < padded) {
                scratch[0] = new float[padded];
            }
            if (scratch[1].length < hd) {
                scratch[1] = new float[hd];
            }
            float[] s = scratch[0];
            float[] o = scratch[1];
            for (int h = lo; h < hi; h++) {
                float inv = 1f / head.attend(h, h / group, s, padded, o);
                int dst = out.offset() + h * hd;
                for (int c = 0; c < hd; c++) {
                    out.data()[dst + c] = o[c] * inv;
                }
            }
        });
    }

    /** s[0, padded) = scale·q·Kᵀ, reading four rows of Kᵀ at a time from start to end. */
    private static void scores(float[] q, int qo, int hd, float scale, float[] kT, int k0, int stride, float[] s, int padded) {
        java.util.Arrays.fill(s, 0, padded, 0f);
        int d = 0;
        for (; d + 4 <= hd; d += 4) {
            FloatVector q0 = FloatVector.broadcast(FS, q[qo + d] * scale);
            FloatVector q1 = FloatVector.broadcast(FS, q[qo + d + 1] * scale);
            FloatVector q2 = FloatVector.broadcast(FS, q[qo + d + 2] * scale);
            FloatVector q3 = FloatVector.broadcast(FS, q[qo + d + 3] * scale);
            int r0 = k0 + d * stride;
            int r1 = r0 + stride;
            int r2 = r1 + stride;
            int r3 = r2 + stride;
            for (int j = 0; j < padded; j += LANES) {
                FloatVector acc = FloatVector.fromArray(FS, s, j);
                acc = FloatVector.fromArray(FS, kT, r0 + j).fma(q0, acc);
                acc = FloatVector.fromArray(FS, kT, r1 + j).fma(q1, acc);
                acc = FloatVector.fromArray(FS, kT, r2 + j).fma(q2, acc);
                acc = FloatVector.fromArray(FS, kT, r3 + j).fma(q3, acc);
                acc.intoArray(s, j);
            }
        }
        for (; d < hd; d++) {
            FloatVector qd = FloatVector.broadcast(FS, q[qo + d] * scale);
            int r = k0 + d * stride;
            for (int j = 0; j < padded; j += LANES) {
                FloatVector.fromArray(FS, kT, r + j).fma(qd, FloatVector.fromArray(FS, s, j)).intoArray(s, j);
            }
        }
    }

    /** s[0, keys) → exp(s − max) in place; returns their sum. */
    private static float softmax(float[] s, int keys) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < keys; j++) {
            max = Math.max(max, s[j]);
        }
        FloatVector shift = FloatVector.broadcast(FS, max);
        FloatVector sum = FloatVector.zero(FS);
        int j = 0;
        for (; j + LANES <= keys; j += LANES) {
            FloatVector p = FloatVector.fromArray(FS, s, j).sub(shift).lanewise(VectorOperators.EXP);
            p.intoArray(s, j);
            sum = sum.add(p);
        }
        float total = sum.reduceLanes(VectorOperators.ADD);
        for (; j < keys; j++) {
            s[j] = (float) Math.exp(s[j] - max);
            total += s[j];
        }
        return total;
    }

    /** o[0, hd) = Σ_j p_j·V[j, v0 .. v0 + hd), values one row per key at vStride. */
    private static void weightedValues(float[] p, int keys, float[] v, int v0, int vStride, int hd, float[] o) {
        int c = 0;
        if (hd == 8 * LANES) {   // the real models' head size (128): the whole row in eight registers
            FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            for (int j = 0, vj = v0; j < keys; j++, vj += vStride) {
                FloatVector pj = FloatVector.broadcast(FS, p[j]);
                a0 = FloatVector.fromArray(FS, v, vj).fma(pj, a0);
                a1 = FloatVector.fromArray(FS, v, vj + LANES).fma(pj, a1);
                a2 = FloatVector.fromArray(FS, v, vj + 2 * LANES).fma(pj, a2);
                a3 = FloatVector.fromArray(FS, v, vj + 3 * LANES).fma(pj, a3);
                a4 = FloatVector.fromArray(FS, v, vj + 4 * LANES).fma(pj, a4);
                a5 = FloatVector.fromArray(FS, v, vj + 5 * LANES).fma(pj, a5);
                a6 = FloatVector.fromArray(FS, v, vj + 6 * LANES).fma(pj, a6);
                a7 = FloatVector.fromArray(FS, v, vj + 7 * LANES).fma(pj, a7);
            }
            // stores stay in this method: a vector handed to a helper C2 does not inline is boxed
            a0.intoArray(o, 0);
            a1.intoArray(o, LANES);
            a2.intoArray(o, 2 * LANES);
            a3.intoArray(o, 3 * LANES);
            a4.intoArray(o, 4 * LANES);
            a5.intoArray(o, 5 * LANES);
            a6.intoArray(o, 6 * LANES);
            a7.intoArray(o, 7 * LANES);
            return;
        }
        for (; c + LANES <= hd; c += LANES) {          // other head sizes (the test models): a vector at a time
            FloatVector a = FloatVector.zero(FS);
            for (int j = 0, vj = v0 + c; j < keys; j++, vj += vStride) {
                a = FloatVector.fromArray(FS, v, vj).fma(FloatVector.broadcast(FS, p[j]), a);
            }
            a.intoArray(o, c);
        }
        for (; c < hd; c++) {
            float a = 0f;
            for (int j = 0; j < keys; j++) {
                a += p[j] * v[v0 + j * vStride + c];
            }
            o[c] = a;
        }
    }
    /** {@link #scores} with Kᵀ in bfloat16. */
    private static void scoresBf16(float[] q, int qo, int hd, float scale, short[] kT, int k0, int stride, float[] s, int padded) {
        java.util.Arrays.fill(s, 0, padded, 0f);
        int d = 0;
        for (; d + 4 <= hd; d += 4) {
            FloatVector q0 = FloatVector.broadcast(FS, q[qo + d] * scale);
            FloatVector q1 = FloatVector.broadcast(FS, q[qo + d + 1] * scale);
            FloatVector q2 = FloatVector.broadcast(FS, q[qo + d + 2] * scale);
            FloatVector q3 = FloatVector.broadcast(FS, q[qo + d + 3] * scale);
            int r0 = k0 + d * stride;
            int r1 = r0 + stride;
            int r2 = r1 + stride;
            int r3 = r2 + stride;
            for (int j = 0; j < padded; j += LANES) {
                FloatVector acc = FloatVector.fromArray(FS, s, j);
                acc = ((IntVector) ShortVector.fromArray(HALF, kT, r0 + j).convertShape(VectorOperators.S2I, IS, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(q0, acc);
                acc = ((IntVector) ShortVector.fromArray(HALF, kT, r1 + j).convertShape(VectorOperators.S2I, IS, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(q1, acc);
                acc = ((IntVector) ShortVector.fromArray(HALF, kT, r2 + j).convertShape(VectorOperators.S2I, IS, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(q2, acc);
                acc = ((IntVector) ShortVector.fromArray(HALF, kT, r3 + j).convertShape(VectorOperators.S2I, IS, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(q3, acc);
                acc.intoArray(s, j);
            }
        }
        for (; d < hd; d++) {
            float qd = q[qo + d] * scale;
            int r = k0 + d * stride;
            for (int j = 0; j < padded; j++) {
                s[j] += qd * Widen.bf16ToFloat(kT[r + j]);
            }
        }
    }

    /** {@link #weightedValues} with V in bfloat16. */
    private static void weightedValuesBf16(float[] p, int keys, short[] v, int v0, int vStride, int hd, float[] o) {
        int c = 0;
        if (hd == 8 * LANES) {   // the real models' head size (128): the whole row in eight registers
            FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            for (int j = 0, vj = v0; j < keys; j++, vj += vStride) {
                FloatVector pj = FloatVector.broadcast(FS, p[j]);
                a0 = bf16(v, vj).fma(pj, a0);
                a1 = bf16(v, vj + LANES).fma(pj, a1);
                a2 = bf16(v, vj + 2 * LANES).fma(pj, a2);
                a3 = bf16(v, vj + 3 * LANES).fma(pj, a3);
                a4 = bf16(v, vj + 4 * LANES).fma(pj, a4);
                a5 = bf16(v, vj + 5 * LANES).fma(pj, a5);
                a6 = bf16(v, vj + 6 * LANES).fma(pj, a6);
                a7 = bf16(v, vj + 7 * LANES).fma(pj, a7);
            }
            a0.intoArray(o, 0);
            a1.intoArray(o, LANES);
            a2.intoArray(o, 2 * LANES);
            a3.intoArray(o, 3 * LANES);
            a4.intoArray(o, 4 * LANES);
            a5.intoArray(o, 5 * LANES);
            a6.intoArray(o, 6 * LANES);
            a7.intoArray(o, 7 * LANES);
            return;
        }
        for (; c < hd; c++) {                          // other head sizes (the test models)
            float a = 0f;
            for (int j = 0; j < keys; j++) {
                a += p[j] * Widen.bf16ToFloat(v[v0 + j * vStride + c]);
            }
            o[c] = a;
        }
    }

    /** LANES bfloat16 values at v[at ..], widened (tiny: C2 inlines it; it takes no vector argument). */
    private static FloatVector bf16(short[] v, int at) {
        return ((IntVector) ShortVector.fromArray(HALF, v, at).convertShape(VectorOperators.S2I, IS, 0))
                .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }
}
