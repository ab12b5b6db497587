package ai.vl4j.tensor;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Gradients of {@link Attention#multiHead} (causal or not, grouped kv heads, no score bias) from the forward's
 * output and the log-sum-exp of each row's scores, recomputing the probabilities instead of keeping them (as
 * flash-attention's backward pass does): for head h over kv head g, query row i and visible key j,
 * <pre>
 *   p_ij = exp((scale·q_i)·k_j − lse_i)          D_i = dO_i·O_i          dS_ij = p_ij·(dO_i·v_j − D_i)
 *   dq_i = scale·Σ_j dS_ij·k_j        dk_j = scale·Σ_(h in g) Σ_i dS_ij·q_i        dv_j = Σ_(h in g) Σ_i p_ij·dO_i
 * </pre>
 * In blocks, as the forward: per kv head g, head h of its group, block of BK keys and chunk of QC query rows
 * (the rows that see some key of the block), in tiles of 4 rows × BK keys,
 * <pre>
 *   S = (scale·Q)·Kᵀ,  dP = dO·Vᵀ                     the forward's score kernel, on tiled Kᵀ and Vᵀ
 *   P = exp(S − lse) (0 at masked keys);  dS = P ⊙ (dP − D)
 *   dQ += dS·K                                         the forward's P·V kernel
 *   dV += Pᵀ·dO;  dK += dSᵀ·(scale·Q)                   once per chunk: 4 keys × the head, summed over the chunk's rows
 * </pre>
 * S is the forward's, bit for bit (the same kernel on the same scaled queries). Kv heads are shared out over the
 * threads: a task writes the dk and dv of its kv head and the dq of its heads, so nothing is written by two.
 */
public final class AttentionBackward {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = FS.length();
    private static final int BK = Attention.BK;
    private static final int QB = Attention.QB;
    /** Query rows per chunk: dK and dV of a key block gather a chunk's rows in registers before they are stored. */
    private static final int QC = 16 * QB;
    /** The 4 × 4 register tiles of dK and dV where there are registers for them (the forward's choice). */
    private static final boolean WIDE = !Attention.HALF_TILES;

    /** Per thread, grown to the largest call and kept (no allocation per call once warm). */
    private static final class Scratch {
        float[] kT = new float[0];      // [hd, nk rounded up to BK]   Kᵀ of kv head g, tiled as Attention.KeysT
        float[] vT = new float[0];      // [hd, nk rounded up to BK]   Vᵀ, tiled the same way
        float[] q = new float[0];       // [nq + QB, hd]               scale·q of head h, rows past nq zero
        float[] dO = new float[0];      // [nq + QB, hd]               dO of head h, rows past nq zero
        float[] dq = new float[0];      // [nq + QB, hdPad]            Σ_j dS_ij·k_j of head h
        float[] lse = new float[0];     // [nq + QB]
        float[] d = new float[0];       // [nq + QB]                   D_i = dO_i·O_i
        final float[] p = new float[QC * BK];     // [QC, BK]          P of a chunk against a key block
        final float[] ds = new float[QC * BK];    // [QC, BK]          dP, then dS

        void ensure(int rows, int hd, int hdPad, int tiledKeys) {
            if (kT.length < hd * tiledKeys) {
                kT = new float[hd * tiledKeys];
                vT = new float[hd * tiledKeys];
            }
            if (q.length < rows * hd) {
                q = new float[rows * hd];
                dO = new float[rows * hd];
            }
            if (dq.length < rows * hdPad) {
                dq = new float[rows * hdPad];
            }
            if (lse.length < rows) {
                lse = new float[rows];
                d = new float[rows];
            }
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private AttentionBackward() {
    }

    /**
     * dq, dk and dv (written, not accumulated) of the attention that gave out from q, k and v; addressing as in
     * {@link Attention#multiHead}. dk and dv rows are zeroed first, so they may be windows of one buffer with dq
     * (a fused qkv's gradient), as q, k and v may be of one buffer.
     *
     * @param lse        the forward's lse[h·nq + i]
     * @param causalPos0 absolute position of query row 0 for a causal mask (query i sees keys j ≤ causalPos0 + i), or -1
     */
    public static void multiHead(Attention.Operand q, Attention.Operand k, Attention.Operand v, Attention.Operand out,
                                 Attention.Operand dOut, float[] lse, Attention.Operand dq, Attention.Operand dk, Attention.Operand dv,
                                 int nq, int nk, int nHeads, int nKvHeads, int hd, float scale, int causalPos0) {
        int group = nHeads / nKvHeads;
        int tiledKeys = Attention.wholeTiles(nk);
        int hdPad = Attention.roundUp(hd, LANES);
        int rows = nq + QB;                                   // a 4-row tile may start at any row below nq
        Parallel.forRange(0, nKvHeads, 1, (lo, hi) -> {
            Scratch sc = SCRATCH.get();
            sc.ensure(rows, hd, hdPad, tiledKeys);
            for (int g = lo; g < hi; g++) {
                packTransposed(k, g, nk, hd, tiledKeys, sc.kT);
                packTransposed(v, g, nk, hd, tiledKeys, sc.vT);
                for (int j = 0; j < nk; j++) {
                    Arrays.fill(dk.data(), dk.at(j, g, hd), dk.at(j, g, hd) + hd, 0f);
                    Arrays.fill(dv.data(), dv.at(j, g, hd), dv.at(j, g, hd) + hd, 0f);
                }
                for (int h = g * group; h < (g + 1) * group; h++) {
                    head(q, k, out, dOut, lse, dq, dk, dv, h, g, nq, nk, hd, hdPad, scale, causalPos0, sc);
                }
            }
        });
    }

    /** Head h's share: its dq, and its terms of kv head g's dk and dv. */
    private static void head(Attention.Operand q, Attention.Operand k, Attention.Operand out, Attention.Operand dOut,
                             float[] lse, Attention.Operand dq, Attention.Operand dk, Attention.Operand dv, int h, int g,
                             int nq, int nk, int hd, int hdPad, float scale, int causalPos0, Scratch sc) {
        // the head's rows, packed: scale·q [nq, hd] (as the forward scales its queries), dO [nq, hd], lse, D
        for (int i = 0; i < nq; i++) {
            int qi = q.at(i, h, hd);
            for (int c = 0; c < hd; c++) {
                sc.q[i * hd + c] = q.data()[qi + c] * scale;
            }
            System.arraycopy(dOut.data(), dOut.at(i, h, hd), sc.dO, i * hd, hd);
            sc.lse[i] = lse[h * nq + i];
            sc.d[i] = VectorMath.dot(dOut.data(), dOut.at(i, h, hd), out.data(), out.at(i, h, hd), hd);
        }
        Arrays.fill(sc.q, nq * hd, (nq + QB) * hd, 0f);
        Arrays.fill(sc.dO, nq * hd, (nq + QB) * hd, 0f);
        Arrays.fill(sc.lse, nq, nq + QB, 0f);
        Arrays.fill(sc.d, nq, nq + QB, 0f);
        Arrays.fill(sc.dq, 0, (nq + QB) * hdPad, 0f);
        for (int kb = 0; kb < nk; kb += BK) {
            int count = Math.min(BK, nk - kb);
            int first = causalPos0 < 0 ? 0 : Math.max(0, kb - causalPos0);   // the first row that sees a key of the block
            if (first >= nq) {
                break;                                        // and no row sees a later block
            }
            int tile = kb * hd;                               // the block's tiles of Kᵀ and Vᵀ: hd rows of BK
            int kRow = k.at(kb, g, hd);
            for (int i0 = first; i0 < nq; i0 += QC) {
                int n = Math.min(QC, nq - i0);
                for (int r0 = 0; r0 < n; r0 += QB) {
                    int row = i0 + r0;
                    int at = r0 * BK;
                    scores(sc.q, row * hd, hd, sc.kT, tile, sc.p, at);       // S  [4, BK]
                    scores(sc.dO, row * hd, hd, sc.vT, tile, sc.ds, at);     // dP [4, BK]
                    for (int r = 0; r < QB; r++) {
                        int i = row + r;
                        int visible = i >= nq ? 0 : causalPos0 < 0 ? count : Math.min(count, causalPos0 + i + 1 - kb);
                        probabilities(sc.p, sc.ds, at + r * BK, sc.lse[i], sc.d[i], visible);
                    }
                    // dQ[rows, :] += dS[rows, block]·K[block, :]
                    if (Attention.HALF_TILES) {
                        Attention.accumulateHalf(sc.ds, at, QB, count, k.data(), kRow, k.stride(), hd, sc.dq, row * hdPad, hdPad);
                    } else {
                        Attention.accumulate(sc.ds, at, QB, count, k.data(), kRow, k.stride(), hd, sc.dq, row * hdPad, hdPad);
                    }
                }
                // dV[block, :] += Pᵀ·dO[chunk, :],  dK[block, :] += dSᵀ·(scale·Q)[chunk, :]
                accumulateTransposed(sc.p, n, count, sc.dO, i0 * hd, hd, dv.data(), dv.at(kb, g, hd), dv.stride(), WIDE);
                accumulateTransposed(sc.ds, n, count, sc.q, i0 * hd, hd, dk.data(), dk.at(kb, g, hd), dk.stride(), WIDE);
            }
        }
        for (int i = 0; i < nq; i++) {                        // dq_i = scale·Σ_j dS_ij·k_j
            int dqi = dq.at(i, h, hd);
            for (int c = 0; c < hd; c++) {
                dq.data()[dqi + c] = sc.dq[i * hdPad + c] * scale;
            }
        }
    }

    /** Rows [0, nk) of kv head g of x into the tiled transposed layout of {@link Attention.KeysT}; padding keys zero. */
    private static void packTransposed(Attention.Operand x, int g, int nk, int hd, int tiledKeys, float[] xT) {
        for (int j = 0; j < nk; j++) {
            int src = x.at(j, g, hd);
            int dst = Attention.keyIndex(0, hd, 0, 0, j);
            for (int d = 0; d < hd; d++) {
                xT[dst + d * BK] = x.data()[src + d];
            }
        }
        for (int j = nk; j < tiledKeys; j++) {
            int dst = Attention.keyIndex(0, hd, 0, 0, j);
            for (int d = 0; d < hd; d++) {
                xT[dst + d * BK] = 0f;
            }
        }
    }

    /** s[so + r·BK + j] = a[ao + r·hd, :]·Bᵀ[:, j] for 4 rows and the BK keys of the tile at b0: the forward's kernel. */
    private static void scores(float[] a, int ao, int hd, float[] bT, int b0, float[] s, int so) {
        if (Attention.HALF_TILES) {
            Attention.scores4x2(a, ao, hd, bT, b0, s, so, 0);
            Attention.scores4x2(a, ao, hd, bT, b0, s, so, 2 * LANES);
        } else {
            Attention.scores4(a, ao, hd, bT, b0, s, so);
        }
    }

    /** One row of a tile: the scores at p[o..o+BK) become P = exp(S − lse), the dP at ds[o..] become dS = P ⊙ (dP − D). */
    private static void probabilities(float[] p, float[] ds, int o, float lse, float d, int visible) {
        FloatVector l = FloatVector.broadcast(FS, lse);
        FloatVector dv = FloatVector.broadcast(FS, d);
        FloatVector zero = FloatVector.zero(FS);
        for (int j = 0; j < BK; j += LANES) {
            if (j >= visible) {                               // masked: past the causal limit, the keys or the rows
                zero.intoArray(p, o + j);
                zero.intoArray(ds, o + j);
                continue;
            }
            VectorMask<Float> seen = FS.indexInRange(j, visible);
            FloatVector pj = zero.blend(FastMath.exp(FloatVector.fromArray(FS, p, o + j).sub(l)), seen);
            pj.intoArray(p, o + j);
            pj.mul(FloatVector.fromArray(FS, ds, o + j).sub(dv)).intoArray(ds, o + j);
        }
    }

    /**
     * O[j, :] += Σ_(i < n) A[i, j]·X[i, :] for the count keys of a tile: A's row i at a[i·BK], X's at x[xo + i·hd],
     * O's row j at o[oo + j·os] (its first hd columns only). Register tiles of 4 keys × 4 vectors of the head where
     * wide (32-register hosts), else 4 × 2, each X vector loaded once per 4 keys; then single vectors, single keys
     * and scalars.
     */
    static void accumulateTransposed(float[] a, int n, int count, float[] x, int xo, int hd, float[] o, int oo, int os,
                                     boolean wide) {
        int j = 0;
        for (; j + 4 <= count; j += 4) {
            int o0 = oo + j * os, o1 = o0 + os, o2 = o1 + os, o3 = o2 + os;
            int c = 0;
            if (wide) {
                for (; c + 4 * LANES <= hd; c += 4 * LANES) {
                    FloatVector a0 = FloatVector.fromArray(FS, o, o0 + c), a1 = FloatVector.fromArray(FS, o, o0 + c + LANES);
                    FloatVector a2 = FloatVector.fromArray(FS, o, o0 + c + 2 * LANES), a3 = FloatVector.fromArray(FS, o, o0 + c + 3 * LANES);
                    FloatVector b0 = FloatVector.fromArray(FS, o, o1 + c), b1 = FloatVector.fromArray(FS, o, o1 + c + LANES);
                    FloatVector b2 = FloatVector.fromArray(FS, o, o1 + c + 2 * LANES), b3 = FloatVector.fromArray(FS, o, o1 + c + 3 * LANES);
                    FloatVector c0 = FloatVector.fromArray(FS, o, o2 + c), c1 = FloatVector.fromArray(FS, o, o2 + c + LANES);
                    FloatVector c2 = FloatVector.fromArray(FS, o, o2 + c + 2 * LANES), c3 = FloatVector.fromArray(FS, o, o2 + c + 3 * LANES);
                    FloatVector d0 = FloatVector.fromArray(FS, o, o3 + c), d1 = FloatVector.fromArray(FS, o, o3 + c + LANES);
                    FloatVector d2 = FloatVector.fromArray(FS, o, o3 + c + 2 * LANES), d3 = FloatVector.fromArray(FS, o, o3 + c + 3 * LANES);
                    for (int i = 0, xi = xo + c, ai = j; i < n; i++, xi += hd, ai += BK) {
                        FloatVector x0 = FloatVector.fromArray(FS, x, xi);
                        FloatVector x1 = FloatVector.fromArray(FS, x, xi + LANES);
                        FloatVector x2 = FloatVector.fromArray(FS, x, xi + 2 * LANES);
                        FloatVector x3 = FloatVector.fromArray(FS, x, xi + 3 * LANES);
                        FloatVector w = FloatVector.broadcast(FS, a[ai]);
                        a0 = x0.fma(w, a0);
                        a1 = x1.fma(w, a1);
                        a2 = x2.fma(w, a2);
                        a3 = x3.fma(w, a3);
                        w = FloatVector.broadcast(FS, a[ai + 1]);
                        b0 = x0.fma(w, b0);
                        b1 = x1.fma(w, b1);
                        b2 = x2.fma(w, b2);
                        b3 = x3.fma(w, b3);
                        w = FloatVector.broadcast(FS, a[ai + 2]);
                        c0 = x0.fma(w, c0);
                        c1 = x1.fma(w, c1);
                        c2 = x2.fma(w, c2);
                        c3 = x3.fma(w, c3);
                        w = FloatVector.broadcast(FS, a[ai + 3]);
                        d0 = x0.fma(w, d0);
                        d1 = x1.fma(w, d1);
                        d2 = x2.fma(w, d2);
                        d3 = x3.fma(w, d3);
                    }
                    a0.intoArray(o, o0 + c);
                    a1.intoArray(o, o0 + c + LANES);
                    a2.intoArray(o, o0 + c + 2 * LANES);
                    a3.intoArray(o, o0 + c + 3 * LANES);
                    b0.intoArray(o, o1 + c);
                    b1.intoArray(o, o1 + c + LANES);
                    b2.intoArray(o, o1 + c + 2 * LANES);
                    b3.intoArray(o, o1 + c + 3 * LANES);
                    c0.intoArray(o, o2 + c);
                    c1.intoArray(o, o2 + c + LANES);
                    c2.intoArray(o, o2 + c + 2 * LANES);
                    c3.intoArray(o, o2 + c + 3 * LANES);
                    d0.intoArray(o, o3 + c);
                    d1.intoArray(o, o3 + c + LANES);
                    d2.intoArray(o, o3 + c + 2 * LANES);
                    d3.intoArray(o, o3 + c + 3 * LANES);
                }
            }
            for (; c + 2 * LANES <= hd; c += 2 * LANES) {
                FloatVector a0 = FloatVector.fromArray(FS, o, o0 + c), a1 = FloatVector.fromArray(FS, o, o0 + c + LANES);
                FloatVector b0 = FloatVector.fromArray(FS, o, o1 + c), b1 = FloatVector.fromArray(FS, o, o1 + c + LANES);
                FloatVector c0 = FloatVector.fromArray(FS, o, o2 + c), c1 = FloatVector.fromArray(FS, o, o2 + c + LANES);
                FloatVector d0 = FloatVector.fromArray(FS, o, o3 + c), d1 = FloatVector.fromArray(FS, o, o3 + c + LANES);
                for (int i = 0, xi = xo + c, ai = j; i < n; i++, xi += hd, ai += BK) {
                    FloatVector x0 = FloatVector.fromArray(FS, x, xi);
                    FloatVector x1 = FloatVector.fromArray(FS, x, xi + LANES);
                    FloatVector w = FloatVector.broadcast(FS, a[ai]);
                    a0 = x0.fma(w, a0);
                    a1 = x1.fma(w, a1);
                    w = FloatVector.broadcast(FS, a[ai + 1]);
                    b0 = x0.fma(w, b0);
                    b1 = x1.fma(w, b1);
                    w = FloatVector.broadcast(FS, a[ai + 2]);
                    c0 = x0.fma(w, c0);
                    c1 = x1.fma(w, c1);
                    w = FloatVector.broadcast(FS, a[ai + 3]);
                    d0 = x0.fma(w, d0);
                    d1 = x1.fma(w, d1);
                }
                a0.intoArray(o, o0 + c);
                a1.intoArray(o, o0 + c + LANES);
                b0.intoArray(o, o1 + c);
                b1.intoArray(o, o1 + c + LANES);
                c0.intoArray(o, o2 + c);
                c1.intoArray(o, o2 + c + LANES);
                d0.intoArray(o, o3 + c);
                d1.intoArray(o, o3 + c + LANES);
            }
            for (; c + LANES <= hd; c += LANES) {
                FloatVector a0 = FloatVector.fromArray(FS, o, o0 + c), b0 = FloatVector.fromArray(FS, o, o1 + c);
                FloatVector c0 = FloatVector.fromArray(FS, o, o2 + c), d0 = FloatVector.fromArray(FS, o, o3 + c);
                for (int i = 0, xi = xo + c, ai = j; i < n; i++, xi += hd, ai += BK) {
                    FloatVector x0 = FloatVector.fromArray(FS, x, xi);
                    a0 = x0.fma(FloatVector.broadcast(FS, a[ai]), a0);
                    b0 = x0.fma(FloatVector.broadcast(FS, a[ai + 1]), b0);
                    c0 = x0.fma(FloatVector.broadcast(FS, a[ai + 2]), c0);
                    d0 = x0.fma(FloatVector.broadcast(FS, a[ai + 3]), d0);
                }
                a0.intoArray(o, o0 + c);
                b0.intoArray(o, o1 + c);
                c0.intoArray(o, o2 + c);
                d0.intoArray(o, o3 + c);
            }
            for (; c < hd; c++) {
                scalarColumns(a, n, j, 4, x, xo, hd, c, o, oo, os);
            }
        }
        for (; j < count; j++) {                             // the last keys of a short block, one at a time
            int o0 = oo + j * os;
            int c = 0;
            for (; c + LANES <= hd; c += LANES) {
                FloatVector a0 = FloatVector.fromArray(FS, o, o0 + c);
                for (int i = 0, xi = xo + c, ai = j; i < n; i++, xi += hd, ai += BK) {
                    a0 = FloatVector.fromArray(FS, x, xi).fma(FloatVector.broadcast(FS, a[ai]), a0);
                }
                a0.intoArray(o, o0 + c);
            }
            for (; c < hd; c++) {
                scalarColumns(a, n, j, 1, x, xo, hd, c, o, oo, os);
            }
        }
    }

    /** Column c of O's rows [j, j + keys) in scalars: O[j', c] += Σ_(i < n) A[i, j']·X[i, c]. */
    private static void scalarColumns(float[] a, int n, int j, int keys, float[] x, int xo, int hd, int c, float[] o, int oo, int os) {
        for (int jj = j; jj < j + keys; jj++) {
            float acc = o[oo + jj * os + c];
            for (int i = 0; i < n; i++) {
                acc += a[i * BK + jj] * x[xo + i * hd + c];
            }
            o[oo + jj * os + c] = acc;
        }
    }
}
