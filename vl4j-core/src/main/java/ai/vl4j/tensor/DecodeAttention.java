package ai.vl4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Attention of one query row per head over the cached keys and values: the decode step. Decode reads every cached
 * key and value once per token (24 layers × 2 × positions × 2048 floats: 250 MB at 640 positions for the 1.3B
 * model), so the work is a memory stream, and the order of reads decides its speed. The cache keeps what one head
 * reads in one contiguous run, in the order it is read: its Kᵀ in tiles of BK keys ({@link Attention.KeysT}),
 * its values as rows of the head size. The scores of all keys fit in L1 (4 bytes a key), so the softmax takes
 * two plain passes instead of the online rescaling.
 * A bfloat16 cache ({@code --kv-cache bf16}) runs the same passes with each value widened in registers; it reads
 * half the bytes.
 * <pre>
 *   s_j = Σ_d (scale·q_d)·Kᵀ[d, j]      per tile of BK keys: hd rows of BK, four vectors of accumulators
 *   p_j = exp(s_j − max s);  out = Σ_j p_j·V[j] / Σ_j p_j
 * </pre>
 * The scores are the blocked prefill kernel's (same tiles, same order of the sum over d, bit for bit); only the
 * softmax's order of operations differs from prefill's online one.
 */
final class DecodeAttention {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = FS.length();
    private static final int BK = Attention.BK;
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, FS.vectorShape());
    private static final VectorSpecies<Short> HALF = VectorSpecies.of(short.class, VectorShape.forBitSize(LANES * 16));
    // per thread: the scores of one head [keys padded to BK], its output [hd], its scaled query [hd]
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][] {new float[0], new float[0], new float[0]});

    private DecodeAttention() {
    }

    /** out[h] = softmax(scale·q[h]·Kᵀ[g]) · V[g] over keys [0, keys), for every head h (g its kv head). */
    static void multiHead(Attention.Operand q, Attention.KeysT kT, Attention.Operand v, Attention.Operand out, int keys,
                          int nHeads, int nKvHeads, int hd, float scale) {
        eachHead(q, scale, out, keys, nHeads, nKvHeads, hd, (g, qs, s, o) -> {
            for (int kb = 0; kb < keys; kb += BK) {
                Attention.scores1(qs, 0, hd, kT.data(), g * kT.headStride() + kb * hd, s, kb);
            }
            float sum = softmax(s, keys);
            weightedValues(s, keys, v.data(), v.at(0, g, hd), v.stride(), hd, o);
            return sum;
        });
    }

    /** {@link #multiHead} over a bfloat16 cache: the same passes, each value widened in registers (a 16-bit shift). */
    static void multiHeadBf16(Attention.Operand q, short[] kT, int headStride, short[] v, int vStride, int vHeadStride,
                              Attention.Operand out, int keys, int nHeads, int nKvHeads, int hd, float scale) {
        eachHead(q, scale, out, keys, nHeads, nKvHeads, hd, (g, qs, s, o) -> {
            for (int kb = 0; kb < keys; kb += BK) {
                scoresBf16(qs, hd, kT, g * headStride + kb * hd, s, kb);
            }
            float sum = softmax(s, keys);
            weightedValuesBf16(s, keys, v, g * vHeadStride, vStride, hd, o);
            return sum;
        });
    }

    /** One head's passes for kv head g: scores of the scaled query qs into s, softmax, Σ p·V into o [hd]; returns the softmax's sum. */
    private interface Head {
        float attend(int g, float[] qs, float[] s, float[] o);
    }

    /** Heads shared out over the threads, each with its thread's scratch; out[h] = o / sum. */
    private static void eachHead(Attention.Operand q, float scale, Attention.Operand out, int keys, int nHeads, int nKvHeads,
                                 int hd, Head head) {
        int group = nHeads / nKvHeads;
        int padded = Attention.wholeTiles(keys);       // scores are computed a whole key tile at a time
        Parallel.forRange(0, nHeads, 1, (lo, hi) -> {
            float[][] scratch = SCRATCH.get();
            if (scratch[0].length < padded) {
                scratch[0] = new float[padded];
            }
            if (scratch[1].length < hd) {
                scratch[1] = new float[hd];
                scratch[2] = new float[hd];
            }
            float[] s = scratch[0];
            float[] o = scratch[1];
            float[] qs = scratch[2];
            for (int h = lo; h < hi; h++) {
                int src = q.at(0, h, hd);
                for (int d = 0; d < hd; d++) {
                    qs[d] = q.data()[src + d] * scale;          // as prefill scales its queries
                }
                float inv = 1f / head.attend(h / group, qs, s, o);
                int dst = out.at(0, h, hd);
                for (int c = 0; c < hd; c++) {
                    out.data()[dst + c] = o[c] * inv;
                }
            }
        });
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
            FloatVector p = FastMath.exp(FloatVector.fromArray(FS, s, j).sub(shift));
            p.intoArray(s, j);
            sum = sum.add(p);
        }
        float total = VectorMath.sumLanes(sum);
        for (; j < keys; j++) {
            s[j] = FastMath.exp(s[j] - max);
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

    /** {@link Attention#scores1} with Kᵀ in bfloat16: s[so, so + BK) for the key tile at k0. */
    private static void scoresBf16(float[] q, int hd, short[] kT, int k0, float[] s, int so) {
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0, kk = k0; d < hd; d++, kk += BK) {
            FloatVector x = FloatVector.broadcast(FS, q[d]);
            a0 = bf16(kT, kk).fma(x, a0);
            a1 = bf16(kT, kk + LANES).fma(x, a1);
            a2 = bf16(kT, kk + 2 * LANES).fma(x, a2);
            a3 = bf16(kT, kk + 3 * LANES).fma(x, a3);
        }
        a0.intoArray(s, so);
        a1.intoArray(s, so + LANES);
        a2.intoArray(s, so + 2 * LANES);
        a3.intoArray(s, so + 3 * LANES);
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
