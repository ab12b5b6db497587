package ai.vl4j.tensor;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Multi-head attention where one side is short: a handful of tokens attending to thousands of positions, or
 * thousands of positions attending to a handful of tokens (SAM's two-way mask decoder does both). The same
 * function as {@link Attention#multiHead} without a mask or bias,
 * <pre>
 *   out[i, h·hd + c] = Σ_j p_ij · v[j, h·hd + c],   p_i = softmax_j((scale·q_i)·k_j)       (per head h)
 * </pre>
 * laid out for the short side. {@link Attention}'s blocked kernel packs the keys transposed and walks them in
 * tiles of 4 vectors: with 7 keys a tile is three-quarters padding, and with 7 queries each call transposes
 * all the keys for a few dot products each. Here the short side lies across a vector's lanes instead, so that
 * neither the long side is copied nor a lane is spent on more than the short side's padding:
 * <pre>
 *   few keys    (keys across lanes):    s = Σ_d (scale·q[i, d]) · Kᵀ[d, ·]     per query row, then softmax in the vector
 *   few queries (queries across lanes): S[j, ·] = Σ_d (scale·Qᵀ[d, ·]) · k[j, d]   per key, softmax down the columns,
 *                                        O[d, ·] = Σ_j P[j, ·] · v[j, d]
 * </pre>
 * Each score is the same FMA chain over d as the blocked kernel's; the softmax is taken in one pass (max, then
 * exponentials and their sum) rather than online. Batched: item b's query rows start at row b·qItemRows and its
 * key and value rows at b·kvItemRows of their operands (0: one set shared by every item), its outputs at b·nq.
 */
public final class ShortAttention {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = FS.length();

    private ShortAttention() {
    }

    /**
     * Attention over a short key set (keys across lanes), parallel over blocks of query rows.
     *
     * @param q          query rows, heads side by side
     * @param k          key rows
     * @param v          value rows
     * @param out        output rows [batch·nq, heads·hd]
     * @param qItemRows  rows between items' queries (0: shared)
     * @param kvItemRows rows between items' keys and values (0: shared)
     */
    public static void fewKeys(Attention.Operand q, Attention.Operand k, Attention.Operand v, Attention.Operand out, int batch, int nq,
                               int nk, int qItemRows, int kvItemRows, int heads, int hd, float scale) {
        int nkPad = Attention.roundUp(nk, LANES);
        int kVectors = nkPad / LANES;
        int rowsPerTask = Math.max(1, Math.min(nq, 64));
        int tasksPerItem = (nq + rowsPerTask - 1) / rowsPerTask;
        // keys transposed per item and head, key j of dimension d at [((b·heads + h)·hd + d)·nkPad + j]; padding 0
        int items = kvItemRows == 0 ? 1 : batch;
        float[] kT = new float[items * heads * hd * nkPad];
        for (int b = 0; b < items; b++) {
            for (int h = 0; h < heads; h++) {
                for (int j = 0; j < nk; j++) {
                    int src = k.at(b * kvItemRows + j, h, hd);
                    int dst = (b * heads + h) * hd * nkPad + j;
                    for (int d = 0; d < hd; d++) {
                        kT[dst + d * nkPad] = k.data()[src + d];
                    }
                }
            }
        }
        Parallel.forRange(0, batch * tasksPerItem, 1, (lo, hi) -> {
            float[] p = new float[4 * nkPad];             // four rows' scores, then probabilities
            float[] qs = new float[4 * hd];               // four rows' scale·q of one head
            for (int task = lo; task < hi; task++) {
                int b = task / tasksPerItem;
                int i0 = task % tasksPerItem * rowsPerTask;
                int i1 = Math.min(nq, i0 + rowsPerTask);
                int kItem = kvItemRows == 0 ? 0 : b;
                for (int h = 0; h < heads; h++) {
                    int kt = (kItem * heads + h) * hd * nkPad;
                    int vo = v.at(kItem * kvItemRows, h, hd);
                    for (int r0 = i0; r0 < i1; r0 += 4) {
                        int rows = Math.min(4, i1 - r0);
                        for (int r = 0; r < 4; r++) {             // rows past the end repeat the last (not written)
                            int qo = q.at(b * qItemRows + r0 + Math.min(r, rows - 1), h, hd);
                            for (int d = 0; d < hd; d++) {
                                qs[r * hd + d] = q.data()[qo + d] * scale;
                            }
                        }
                        for (int g = 0; g < kVectors; g++) {
                            scores4(qs, hd, kT, kt + g * LANES, nkPad, p, g * LANES, nkPad);
                        }
                        for (int r = 0; r < rows; r++) {          // the padding keys: no weight
                            Arrays.fill(p, r * nkPad + nk, (r + 1) * nkPad, Float.NEGATIVE_INFINITY);
                        }
                        for (int r = 0; r < rows; r++) {
                            float inv = softmax(p, r * nkPad, kVectors);
                            int oo = out.at(b * nq + r0 + r, h, hd);
                            int c = 0;
                            for (; c + LANES <= hd; c += LANES) {
                                FloatVector o = FloatVector.zero(FS);
                                for (int j = 0, vj = vo + c; j < nk; j++, vj += v.stride()) {
                                    o = FloatVector.fromArray(FS, v.data(), vj).fma(FloatVector.broadcast(FS, p[r * nkPad + j]), o);
                                }
                                o.mul(inv).intoArray(out.data(), oo + c);
                            }
                            for (; c < hd; c++) {
                                float o = 0f;
                                for (int j = 0, vj = vo + c; j < nk; j++, vj += v.stride()) {
                                    o = Math.fma(v.data()[vj], p[r * nkPad + j], o);
                                }
                                out.data()[oo + c] = o * inv;
                            }
                        }
                    }
                }
            }
        });
    }

    /** s[r·sStride + off ..+LANES) = Σ_d q[r, d]·Kᵀ[d, ·] for four rows r: four independent FMA chains. */
    private static void scores4(float[] q, int hd, float[] kT, int k0, int kStride, float[] s, int off, int sStride) {
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0, kk = k0; d < hd; d++, kk += kStride) {
            FloatVector kv = FloatVector.fromArray(FS, kT, kk);
            a0 = kv.fma(FloatVector.broadcast(FS, q[d]), a0);
            a1 = kv.fma(FloatVector.broadcast(FS, q[hd + d]), a1);
            a2 = kv.fma(FloatVector.broadcast(FS, q[2 * hd + d]), a2);
            a3 = kv.fma(FloatVector.broadcast(FS, q[3 * hd + d]), a3);
        }
        a0.intoArray(s, off);
        a1.intoArray(s, sStride + off);
        a2.intoArray(s, 2 * sStride + off);
        a3.intoArray(s, 3 * sStride + off);
    }

    /** Scores s[so ..) of whole vectors (padding −∞) to exp(s − max) in place; returns 1 / their sum. */
    private static float softmax(float[] s, int so, int vectors) {
        FloatVector max = FloatVector.fromArray(FS, s, so);
        for (int g = 1; g < vectors; g++) {
            max = max.max(FloatVector.fromArray(FS, s, so + g * LANES));
        }
        FloatVector shift = FloatVector.broadcast(FS, max.reduceLanes(VectorOperators.MAX));
        FloatVector sum = FloatVector.zero(FS);
        for (int g = 0; g < vectors; g++) {
            FloatVector e = FastMath.exp(FloatVector.fromArray(FS, s, so + g * LANES).sub(shift));
            e.intoArray(s, so + g * LANES);
            sum = sum.add(e);
        }
        return 1f / VectorMath.sumLanes(sum);
    }

    /**
     * The softmax of each run of size consecutive values of x (rows · groups runs): many queries' scores over a
     * few keys, laid out queries × (head, key), each head's keys one run.
     */
    public static void softmaxRuns(float[] x, int runs, int size) {
        Parallel.forRange(0, runs, 256, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {                 // each run less its max
                int o = r * size;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < size; j++) {
                    max = Math.max(max, x[o + j]);
                }
                for (int j = 0; j < size; j++) {
                    x[o + j] -= max;
                }
            }
            int i = lo * size;                                // the exponentials of all the runs, on vectors
            int end = hi * size;
            for (; i <= end - LANES; i += LANES) {
                FastMath.exp(FloatVector.fromArray(FS, x, i)).intoArray(x, i);
            }
            for (; i < end; i++) {
                x[i] = FastMath.exp(x[i]);                    // the same bits as a lane
            }
            for (int r = lo; r < hi; r++) {
                int o = r * size;
                float sum = 0f;
                for (int j = 0; j < size; j++) {
                    sum += x[o + j];
                }
                float inv = 1f / sum;
                for (int j = 0; j < size; j++) {
                    x[o + j] *= inv;
                }
            }
        });
    }

    /**
     * Each column of x [rows, cols] to exp(x − its max) in place, the column sums into sums [cols]: the softmax over
     * many keys of a few queries' scores laid out keys × queries, before the division by the sum. Vectors run
     * across the columns.
     */
    public static void expColumns(float[] x, int rows, int cols, float[] sums) {
        int groups = (cols + LANES - 1) / LANES;
        Parallel.forRange(0, groups, 1, (lo, hi) -> {
            for (int g = lo; g < hi; g++) {
                int c0 = g * LANES;
                if (c0 + LANES <= cols) {
                    FloatVector max = FloatVector.fromArray(FS, x, c0);
                    for (int r = 1; r < rows; r++) {
                        max = max.max(FloatVector.fromArray(FS, x, r * cols + c0));
                    }
                    FloatVector sum = FloatVector.zero(FS);
                    for (int r = 0; r < rows; r++) {
                        FloatVector e = FastMath.exp(FloatVector.fromArray(FS, x, r * cols + c0).sub(max));
                        e.intoArray(x, r * cols + c0);
                        sum = sum.add(e);
                    }
                    sum.intoArray(sums, c0);
                    continue;
                }
                for (int c = c0; c < cols; c++) {
                    float max = Float.NEGATIVE_INFINITY;
                    for (int r = 0; r < rows; r++) {
                        max = Math.max(max, x[r * cols + c]);
                    }
                    float sum = 0f;
                    for (int r = 0; r < rows; r++) {
                        float e = FastMath.exp(x[r * cols + c] - max);
                        x[r * cols + c] = e;
                        sum += e;
                    }
                    sums[c] = sum;
                }
            }
        });
    }

    /**
     * Attention of a few query rows (queries across lanes) over many keys, parallel over (item, head).
     * Parameters as {@link #fewKeys}.
     */
    public static void fewQueries(Attention.Operand q, Attention.Operand k, Attention.Operand v, Attention.Operand out, int batch,
                                  int nq, int nk, int qItemRows, int kvItemRows, int heads, int hd, float scale) {
        int nqPad = Attention.roundUp(nq, LANES);
        int qVectors = nqPad / LANES;
        Parallel.forRange(0, batch * heads, 1, (lo, hi) -> {
            float[] qT = new float[hd * nqPad];           // scale·Qᵀ [hd, nqPad], padding 0
            float[] s = new float[nk * nqPad];            // scores, then probabilities [nk, nqPad]
            float[] o = new float[hd * nqPad];            // Oᵀ [hd, nqPad]
            float[] l = new float[nqPad];
            for (int task = lo; task < hi; task++) {
                int b = task / heads;
                int h = task % heads;
                for (int i = 0; i < nq; i++) {
                    int src = q.at(b * qItemRows + i, h, hd);
                    for (int d = 0; d < hd; d++) {
                        qT[d * nqPad + i] = q.data()[src + d] * scale;
                    }
                }
                int k0 = k.at(b * kvItemRows, h, hd);
                int v0 = v.at(b * kvItemRows, h, hd);
                for (int g = 0; g < qVectors; g++) {
                    int lane = g * LANES;
                    // S[j, ·] = Σ_d Qᵀ[d, ·]·k[j, d], the running max down the column
                    FloatVector max = FloatVector.broadcast(FS, Float.NEGATIVE_INFINITY);
                    int j = 0;
                    for (int ks = k.stride(); j + 4 <= nk; j += 4) {      // four keys: four independent FMA chains
                        int kj = k0 + j * ks;
                        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
                        for (int d = 0; d < hd; d++) {
                            FloatVector qd = FloatVector.fromArray(FS, qT, d * nqPad + lane);
                            a0 = FloatVector.broadcast(FS, k.data()[kj + d]).fma(qd, a0);
                            a1 = FloatVector.broadcast(FS, k.data()[kj + ks + d]).fma(qd, a1);
                            a2 = FloatVector.broadcast(FS, k.data()[kj + 2 * ks + d]).fma(qd, a2);
                            a3 = FloatVector.broadcast(FS, k.data()[kj + 3 * ks + d]).fma(qd, a3);
                        }
                        a0.intoArray(s, j * nqPad + lane);
                        a1.intoArray(s, (j + 1) * nqPad + lane);
                        a2.intoArray(s, (j + 2) * nqPad + lane);
                        a3.intoArray(s, (j + 3) * nqPad + lane);
                        max = max.max(a0).max(a1).max(a2).max(a3);
                    }
                    for (; j < nk; j++) {
                        int kj = k0 + j * k.stride();
                        FloatVector a = FloatVector.zero(FS);
                        for (int d = 0; d < hd; d++) {
                            a = FloatVector.broadcast(FS, k.data()[kj + d]).fma(FloatVector.fromArray(FS, qT, d * nqPad + lane), a);
                        }
                        a.intoArray(s, j * nqPad + lane);
                        max = max.max(a);
                    }
                    FloatVector sum = FloatVector.zero(FS);
                    for (j = 0; j < nk; j++) {
                        FloatVector e = FastMath.exp(FloatVector.fromArray(FS, s, j * nqPad + lane).sub(max));
                        e.intoArray(s, j * nqPad + lane);
                        sum = sum.add(e);
                    }
                    sum.intoArray(l, lane);
                    // Oᵀ[d, ·] = Σ_j P[j, ·]·v[j, d], four dimensions per pass over the keys
                    int d = 0;
                    for (; d + 4 <= hd; d += 4) {
                        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
                        for (j = 0; j < nk; j++) {
                            int vj = v0 + d + j * v.stride();
                            FloatVector pj = FloatVector.fromArray(FS, s, j * nqPad + lane);
                            a0 = FloatVector.broadcast(FS, v.data()[vj]).fma(pj, a0);
                            a1 = FloatVector.broadcast(FS, v.data()[vj + 1]).fma(pj, a1);
                            a2 = FloatVector.broadcast(FS, v.data()[vj + 2]).fma(pj, a2);
                            a3 = FloatVector.broadcast(FS, v.data()[vj + 3]).fma(pj, a3);
                        }
                        a0.intoArray(o, d * nqPad + lane);
                        a1.intoArray(o, (d + 1) * nqPad + lane);
                        a2.intoArray(o, (d + 2) * nqPad + lane);
                        a3.intoArray(o, (d + 3) * nqPad + lane);
                    }
                    for (; d < hd; d++) {
                        FloatVector a = FloatVector.zero(FS);
                        for (j = 0; j < nk; j++) {
                            int vj = v0 + d + j * v.stride();
                            a = FloatVector.broadcast(FS, v.data()[vj]).fma(FloatVector.fromArray(FS, s, j * nqPad + lane), a);
                        }
                        a.intoArray(o, d * nqPad + lane);
                    }
                }
                for (int i = 0; i < nq; i++) {
                    float inv = 1f / l[i];
                    int dst = out.at(b * nq + i, h, hd);
                    for (int d = 0; d < hd; d++) {
                        out.data()[dst + d] = o[d * nqPad + i] * inv;
                    }
                }
            }
        });
    }
}
