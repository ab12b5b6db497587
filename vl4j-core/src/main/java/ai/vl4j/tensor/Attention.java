package ai.vl4j.tensor;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Multi-head scaled dot-product attention, fused and streaming (flash-style): no score matrix larger than
 * QB × WIDE_TILES·BK ever exists, so SAM's 4096-token global attention needs a few kilobytes per thread, not 64 MB
 * per head.
 *
 * <pre>
 * out[i, h·hd + c] = Σ_j p_ij · v[j, g·hd + c],   p_i = softmax_j(scale · q_i·k_j + bias_ij),  g = h / (heads / kvHeads)
 *
 * per (head, group of QG quads of QB query rows), for each step of keys (BK keys where causal, else WIDE_TILES·BK),
 * for each quad of the group:
 *   S = Q·Kᵀ                 vectors run along keys: Kᵀ is stored (or packed) in tiles of BK keys × hd rows
 *   S = scale·S + bias;  masked keys (causal, padding) = −∞
 *   m' = max(m, rowmax S);  P = exp(S − m');  l = l·e^(m−m') + ΣP;  O = O·e^(m−m') + P·V     (online softmax)
 * out = O / l
 * </pre>
 * The group's quads take a step's keys and values in turn, so these come from memory once per group and from
 * cache for the rest (one quad at a time read the whole of K and V per four rows: SAM's global attention was bound
 * by that traffic). Keys arrive either as rows (vision: a fused qkv buffer; packed to tiled Kᵀ once per head, the
 * values to one contiguous run per head) or already tiled (the KV cache keeps them so, and decode and prefill read
 * it in place). Queries, values and outputs are addressed as windows of wider row-major buffers ({@link Operand}).
 * Where causal, each row's sums are those of one quad alone, step by step, whatever group or call it is in.
 */
public final class Attention {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = FS.length();
    /** Keys per block: four vectors. */
    public static final int BK = 4 * LANES;
    /** Query rows per block. */
    static final int QB = 4;
    /** Key tiles per online-softmax step without a causal mask (vision towers). */
    static final int WIDE_TILES = 4;
    /** Quads of query rows per task: they share each step's keys and values while these are in cache. */
    static final int QG = 16;
    /**
     * Register tiles of 4 rows × 2 vectors instead of 4 × 4 where C2 has 16 vector registers (AVX2): 16
     * accumulators + 4 loaded vectors + a broadcast spill there. Each score and output is the same FMA chain in
     * the same order either way.
     */
    static final boolean HALF_TILES = Gemm.vectorRegisters() < 32;

    /**
     * Rows of per-head vectors: row i, head h at data[offset + i·stride + h·headStride]. With the three-argument
     * form the heads sit side by side in each row (headStride = the head size, {@link #SIDE_BY_SIDE}); the KV
     * cache keeps each kv head's values apart (headStride = positions · head size), so one head's rows are one
     * contiguous run.
     */
    public record Operand(float[] data, int stride, int offset, int headStride) {
        /** headStride meaning "the head size": heads side by side within a row. */
        public static final int SIDE_BY_SIDE = -1;

        public Operand(float[] data, int stride, int offset) {
            this(data, stride, offset, SIDE_BY_SIDE);
        }

        /** Index of element 0 of head h in row i, for heads of headDim values. */
        int at(int i, int h, int headDim) {
            return offset + i * stride + h * (headStride == SIDE_BY_SIDE ? headDim : headStride);
        }
    }

    /**
     * Keys transposed in tiles of BK positions ({@link #keyIndex}): for kv head g, keys [b·BK, (b+1)·BK) are hd rows
     * of BK values, row d holding dimension d of those keys. Kernels read a key block's rows as vectors along
     * positions, and a head's keys are one contiguous run in the order they are read: one sequential stream
     * (with whole rows of Kᵀ, a block read hd short strided streams, which the prefetchers do not follow). Tiles
     * are whole: positions past the last key, to the next multiple of BK, are readable (their scores are masked).
     */
    public record KeysT(float[] data, int headStride) {
    }

    /** Positions rounded up to whole key tiles (of BK): what a tiled Kᵀ holds per kv head and head dimension. */
    public static int wholeTiles(int positions) {
        return roundUp(positions, BK);
    }

    /** Index of dimension d of key j of kv head g in the tiled Kᵀ layout of {@link KeysT}. */
    public static int keyIndex(int headStride, int headDim, int g, int d, int j) {
        return g * headStride + (j / BK) * (headDim * BK) + d * BK + j % BK;
    }

    /**
     * Additive score terms (e.g. SAM's decomposed relative positions). terms() is called once per (head, query
     * row) into a scratch area of termsLength() floats; add() then adds the terms to the scores of a key range.
     * Called from worker threads.
     */
    public interface ScoreBias {
        int termsLength();

        void terms(int head, int queryRow, float[] dst, int off);

        void add(float[] terms, int termsOff, int keyStart, float[] scores, int scoresOff, int count);
    }

    private static final class Scratch {
        float[] q = new float[0];       // [QG·QB, hd]
        float[] s = new float[0];       // [QB, WIDE_TILES·BK]: one quad's scores
        float[] o = new float[0];       // [QG·QB, hdPad]
        float[] terms = new float[0];   // [QG·QB, termsLength]
        final float[] m = new float[QG * QB];
        final float[] l = new float[QG * QB];

        void ensure(int hd, int hdPad, int termsLength) {
            if (q.length < QG * QB * hd) {
                q = new float[QG * QB * hd];
            }
            if (s.length < QB * WIDE_TILES * BK) {
                s = new float[QB * WIDE_TILES * BK];
            }
            if (o.length < QG * QB * hdPad) {
                o = new float[QG * QB * hdPad];
            }
            if (terms.length < QG * QB * termsLength) {
                terms = new float[QG * QB * termsLength];
            }
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private Attention() {
    }

    /** Keys as rows (k is like q): packs Kᵀ, and the values, per kv head once, then attends. */
    public static void multiHead(Operand q, Operand k, Operand v, Operand out,
                                 int nq, int nk, int nHeads, int nKvHeads, int headDim, float scale, int causalPos0) {
        multiHead(q, k, v, out, nq, nk, nHeads, nKvHeads, headDim, scale, causalPos0, null);
    }

    /** As above, with bias (may be null) added to the scaled scores. */
    public static void multiHead(Operand q, Operand k, Operand v, Operand out, int nq, int nk, int nHeads, int nKvHeads,
                                 int headDim, float scale, int causalPos0, ScoreBias bias) {
        multiHead(q, k, v, out, nq, nk, nHeads, nKvHeads, headDim, scale, causalPos0, bias, null);
    }

    /**
     * As above, also writing the log-sum-exp of each (head, query row)'s scores to lse[h·nq + i] (null: not
     * needed): what {@link AttentionBackward} recomputes the probabilities from.
     */
    public static void multiHead(Operand q, Operand k, Operand v, Operand out, int nq, int nk, int nHeads, int nKvHeads,
                                 int headDim, float scale, int causalPos0, ScoreBias bias, float[] lse) {
        int blocks = wholeTiles(nk) / BK;
        int headStride = headDim * wholeTiles(nk);
        float[] kT = new float[nKvHeads * headStride];
        Parallel.forRange(0, nKvHeads * blocks, 1, (lo, hi) -> {
            for (int gb = lo; gb < hi; gb++) {
                int g = gb / blocks;
                int j0 = gb % blocks * BK;
                int tile = keyIndex(headStride, headDim, g, 0, j0);
                for (int j = j0; j < Math.min(nk, j0 + BK); j++) {
                    int src = k.at(j, g, headDim);
                    for (int d = 0; d < headDim; d++) {
                        kT[tile + d * BK + j - j0] = k.data()[src + d];
                    }
                }
            }
        });
        // the values likewise, each kv head's rows one contiguous run: rows of a wide buffer (a fused qkv) lie a
        // power-of-two-ish stride apart and crowd into a few cache sets, which a step's keys then evict
        float[] vRuns = new float[nKvHeads * nk * headDim];
        Parallel.forRange(0, nKvHeads * blocks, 1, (lo, hi) -> {
            for (int gb = lo; gb < hi; gb++) {
                int g = gb / blocks;
                for (int j = gb % blocks * BK; j < Math.min(nk, (gb % blocks + 1) * BK); j++) {
                    System.arraycopy(v.data(), v.at(j, g, headDim), vRuns, (g * nk + j) * headDim, headDim);
                }
            }
        });
        multiHead(q, new KeysT(kT, headStride), new Operand(vRuns, headDim, 0, nk * headDim), out, nq, nk, nHeads, nKvHeads,
                headDim, scale, causalPos0, bias, lse);
    }

    /**
     * Keys already transposed (the KV cache).
     *
     * @param causalPos0 absolute position of query row 0 for a causal mask (query i sees keys j ≤ causalPos0 + i), or -1
     */
    public static void multiHead(Operand q, KeysT kT, Operand v, Operand out, int nq, int nk, int nHeads, int nKvHeads,
                                 int headDim, float scale, int causalPos0, ScoreBias bias) {
        multiHead(q, kT, v, out, nq, nk, nHeads, nKvHeads, headDim, scale, causalPos0, bias, null);
    }

    /** As above, with the log-sum-exp of each (head, row)'s scores into lse[h·nq + i] unless lse is null. */
    public static void multiHead(Operand q, KeysT kT, Operand v, Operand out, int nq, int nk, int nHeads, int nKvHeads,
                                 int headDim, float scale, int causalPos0, ScoreBias bias, float[] lse) {
        int group = nHeads / nKvHeads;
        int qBlocks = (nq + QG * QB - 1) / (QG * QB);
        int hdPad = roundUp(headDim, LANES);
        int termsLength = bias == null ? 0 : bias.termsLength();
        Parallel.forRange(0, nHeads * qBlocks, 1, (lo, hi) -> {
            Scratch sc = SCRATCH.get();
            sc.ensure(headDim, hdPad, termsLength);
            for (int task = lo; task < hi; task++) {
                int h = task / qBlocks;
                int i0 = (task % qBlocks) * QG * QB;
                int rows = Math.min(QG * QB, nq - i0);
                block(q, kT, v, out, h, h / group, i0, rows, nk, headDim, hdPad, scale, causalPos0, bias, termsLength, sc);
                if (lse != null) {
                    for (int r = 0; r < rows; r++) {
                        lse[h * nq + i0 + r] = sc.m[r] + (float) Math.log(sc.l[r]);
                    }
                }
            }
        });
    }

    /**
     * Decode attention: one query row per head (q row 0) over keys [0, keys) of the cache, read as long streams
     * ({@link DecodeAttention}). Its scores are those of the blocked kernel, its softmax sums in another order.
     */
    public static void decode(Operand q, KeysT kT, Operand v, Operand out, int keys, int nHeads, int nKvHeads, int headDim,
                              float scale) {
        DecodeAttention.multiHead(q, kT, v, out, keys, nHeads, nKvHeads, headDim, scale);
    }

    /**
     * Decode attention over a bfloat16 KV cache: Kᵀ tiled as in {@link KeysT}, the values of position j of kv head
     * g at v[g·vHeadStride + j·vStride]; keys [0, keys).
     */
    public static void decodeBf16(Operand q, short[] kT, int headStride, short[] v, int vStride, int vHeadStride, Operand out,
                                  int keys, int nHeads, int nKvHeads, int headDim, float scale) {
        DecodeAttention.multiHeadBf16(q, kT, headStride, v, vStride, vHeadStride, out, keys, nHeads, nKvHeads, headDim, scale);
    }

    /**
     * Head h's query rows [i0, i0 + rows) (at most QG·QB): for each step of keys, each quad of rows in turn, so that
     * the step's keys and values are read from memory once for all of them and from cache by the rest.
     */
    private static void block(Operand q, KeysT kT, Operand v, Operand out, int h, int g, int i0, int rows, int nk,
                              int hd, int hdPad, float scale, int causalPos0, ScoreBias bias, int termsLength, Scratch sc) {
        float[] qs = sc.q;
        float[] s = sc.s;
        float[] o = sc.o;
        int quads = (rows + QB - 1) / QB;
        Arrays.fill(qs, 0, quads * QB * hd, 0f);
        for (int r = 0; r < rows; r++) {
            // scale folded into the query: (q·scale)·k, as SAM's reference computes it
            int src = q.at(i0 + r, h, hd);
            for (int c = 0; c < hd; c++) {
                qs[r * hd + c] = q.data()[src + c] * scale;
            }
            if (bias != null) {
                bias.terms(h, i0 + r, sc.terms, r * termsLength);
            }
        }
        Arrays.fill(o, 0, quads * QB * hdPad, 0f);
        Arrays.fill(sc.m, Float.NEGATIVE_INFINITY);
        Arrays.fill(sc.l, 0f);
        int keys = causalPos0 < 0 ? nk : Math.min(nk, causalPos0 + i0 + rows);
        int kBase = g * kT.headStride();
        int vBase = v.at(0, g, hd);
        // keys per online-softmax step: one tile where causal (a prompt's rows keep the bits of any split), else
        // WIDE_TILES tiles, so that the step's fixed costs (row maxima, rescaling O) are shared by more keys
        int width = causalPos0 < 0 ? WIDE_TILES * BK : BK;
        for (int kb = 0; kb < keys; kb += width) {
            for (int qd = 0; qd < quads; qd++) {
                int r0 = qd * QB;
                int n = Math.min(QB, rows - r0);
                int quadKeys = causalPos0 < 0 ? nk : Math.min(nk, causalPos0 + i0 + r0 + n);
                if (kb >= quadKeys) {
                    continue;                                   // every key of the step is past this quad's causal limit
                }
                int count = Math.min(width, quadKeys - kb);
                for (int t = 0; t * BK < count; t++) {
                    int tile = kBase + (kb + t * BK) * hd;      // the key tile's Kᵀ: hd rows of BK
                    if (n == QB && HALF_TILES) {
                        scores4x2(qs, r0 * hd, hd, kT.data(), tile, s, t * BK, 0, width);
                        scores4x2(qs, r0 * hd, hd, kT.data(), tile, s, t * BK, 2 * LANES, width);
                    } else if (n == QB) {
                        scores4(qs, r0 * hd, hd, kT.data(), tile, s, t * BK, width);
                    } else {
                        for (int r = 0; r < n; r++) {
                            scores1(qs, (r0 + r) * hd, hd, kT.data(), tile, s, r * width + t * BK);
                        }
                    }
                }
                for (int r = 0; r < n; r++) {
                    int so = r * width;
                    if (bias != null) {
                        bias.add(sc.terms, (r0 + r) * termsLength, kb, s, so, count);
                    }
                    // keys past the step's end or the causal limit of this row
                    int visible = causalPos0 < 0 ? count : Math.min(count, causalPos0 + i0 + r0 + r + 1 - kb);
                    for (int j = Math.max(visible, 0); j < width; j++) {
                        s[so + j] = Float.NEGATIVE_INFINITY;
                    }
                    online(s, so, width, sc, r0 + r, o, (r0 + r) * hdPad, hdPad);
                }
                if (HALF_TILES) {
                    accumulateHalf(s, 0, width, n, count, v.data(), vBase + kb * v.stride(), v.stride(), hd, o, r0 * hdPad, hdPad);
                } else {
                    accumulate(s, 0, width, n, count, v.data(), vBase + kb * v.stride(), v.stride(), hd, o, r0 * hdPad, hdPad);
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            float inv = 1f / sc.l[r];
            int dst = out.at(i0 + r, h, hd);
            for (int c = 0; c < hd; c++) {
                out.data()[dst + c] = o[r * hdPad + c] * inv;
            }
        }
    }

    /**
     * S[r, 0..BK) = Σ_d q[r, d]·Kᵀ[d, kb..kb+BK) for the 4 query rows at q[qo + r·hd], the key block's tile at k0,
     * into s[so + r·BK]; 16 accumulators.
     */
    static void scores4(float[] q, int qo, int hd, float[] kT, int k0, float[] s, int so) {
        scores4(q, qo, hd, kT, k0, s, so, BK);
    }

    /** As above, row r of S at s[so + r·ss]. */
    static void scores4(float[] q, int qo, int hd, float[] kT, int k0, float[] s, int so, int ss) {
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        FloatVector c0 = a0, c1 = a0, c2 = a0, c3 = a0, d0 = a0, d1 = a0, d2 = a0, d3 = a0;
        for (int d = 0, kk = k0; d < hd; d++, kk += BK) {
            FloatVector k0v = FloatVector.fromArray(FS, kT, kk);
            FloatVector k1v = FloatVector.fromArray(FS, kT, kk + LANES);
            FloatVector k2v = FloatVector.fromArray(FS, kT, kk + 2 * LANES);
            FloatVector k3v = FloatVector.fromArray(FS, kT, kk + 3 * LANES);
            FloatVector x = FloatVector.broadcast(FS, q[qo + d]);
            a0 = k0v.fma(x, a0);
            a1 = k1v.fma(x, a1);
            a2 = k2v.fma(x, a2);
            a3 = k3v.fma(x, a3);
            x = FloatVector.broadcast(FS, q[qo + hd + d]);
            b0 = k0v.fma(x, b0);
            b1 = k1v.fma(x, b1);
            b2 = k2v.fma(x, b2);
            b3 = k3v.fma(x, b3);
            x = FloatVector.broadcast(FS, q[qo + 2 * hd + d]);
            c0 = k0v.fma(x, c0);
            c1 = k1v.fma(x, c1);
            c2 = k2v.fma(x, c2);
            c3 = k3v.fma(x, c3);
            x = FloatVector.broadcast(FS, q[qo + 3 * hd + d]);
            d0 = k0v.fma(x, d0);
            d1 = k1v.fma(x, d1);
            d2 = k2v.fma(x, d2);
            d3 = k3v.fma(x, d3);
        }
        a0.intoArray(s, so);
        a1.intoArray(s, so + LANES);
        a2.intoArray(s, so + 2 * LANES);
        a3.intoArray(s, so + 3 * LANES);
        b0.intoArray(s, so + ss);
        b1.intoArray(s, so + ss + LANES);
        b2.intoArray(s, so + ss + 2 * LANES);
        b3.intoArray(s, so + ss + 3 * LANES);
        c0.intoArray(s, so + 2 * ss);
        c1.intoArray(s, so + 2 * ss + LANES);
        c2.intoArray(s, so + 2 * ss + 2 * LANES);
        c3.intoArray(s, so + 2 * ss + 3 * LANES);
        d0.intoArray(s, so + 3 * ss);
        d1.intoArray(s, so + 3 * ss + LANES);
        d2.intoArray(s, so + 3 * ss + 2 * LANES);
        d3.intoArray(s, so + 3 * ss + 3 * LANES);
    }

    /** As {@link #scores4} for the keys [off, off + 2·LANES) of the block: 8 accumulators (16-register hosts). */
    static void scores4x2(float[] q, int qo, int hd, float[] kT, int k0, float[] s, int so, int off) {
        scores4x2(q, qo, hd, kT, k0, s, so, off, BK);
    }

    /** As above, row r of S at s[so + r·ss]. */
    static void scores4x2(float[] q, int qo, int hd, float[] kT, int k0, float[] s, int so, int off, int ss) {
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
        for (int d = 0, kk = k0 + off; d < hd; d++, kk += BK) {
            FloatVector k0v = FloatVector.fromArray(FS, kT, kk);
            FloatVector k1v = FloatVector.fromArray(FS, kT, kk + LANES);
            FloatVector x = FloatVector.broadcast(FS, q[qo + d]);
            a0 = k0v.fma(x, a0);
            a1 = k1v.fma(x, a1);
            x = FloatVector.broadcast(FS, q[qo + hd + d]);
            b0 = k0v.fma(x, b0);
            b1 = k1v.fma(x, b1);
            x = FloatVector.broadcast(FS, q[qo + 2 * hd + d]);
            c0 = k0v.fma(x, c0);
            c1 = k1v.fma(x, c1);
            x = FloatVector.broadcast(FS, q[qo + 3 * hd + d]);
            d0 = k0v.fma(x, d0);
            d1 = k1v.fma(x, d1);
        }
        a0.intoArray(s, so + off);
        a1.intoArray(s, so + off + LANES);
        b0.intoArray(s, so + ss + off);
        b1.intoArray(s, so + ss + off + LANES);
        c0.intoArray(s, so + 2 * ss + off);
        c1.intoArray(s, so + 2 * ss + off + LANES);
        d0.intoArray(s, so + 3 * ss + off);
        d1.intoArray(s, so + 3 * ss + off + LANES);
    }

    /** One query row's scores against a key block, its tile at k0 (d's sum in order: decode reads the same values). */
    static void scores1(float[] q, int qo, int hd, float[] kT, int k0, float[] s, int so) {
        VectorMath.combine(kT, k0, BK, hd, q, qo, s, so, BK);
    }

    /** Online-softmax step for one row of width scores: they become probabilities relative to the new running max. */
    private static void online(float[] s, int so, int width, Scratch sc, int r, float[] o, int oo, int hdPad) {
        FloatVector mv = FloatVector.fromArray(FS, s, so);
        for (int j = LANES; j < width; j += LANES) {
            mv = mv.max(FloatVector.fromArray(FS, s, so + j));
        }
        float blockMax = mv.reduceLanes(VectorOperators.MAX);
        float mOld = sc.m[r];
        float mNew = Math.max(mOld, blockMax);
        if (mNew == Float.NEGATIVE_INFINITY) {              // nothing visible yet in this row
            Arrays.fill(s, so, so + width, 0f);
            return;
        }
        FloatVector shift = FloatVector.broadcast(FS, mNew);
        FloatVector sum = FloatVector.zero(FS);
        for (int j = 0; j < width; j += LANES) {
            FloatVector p = FastMath.exp(FloatVector.fromArray(FS, s, so + j).sub(shift));
            p.intoArray(s, so + j);
            sum = sum.add(p);
        }
        float alpha = mOld == Float.NEGATIVE_INFINITY ? 0f : FastMath.exp(mOld - mNew);
        sc.l[r] = sc.l[r] * alpha + VectorMath.sumLanes(sum);
        sc.m[r] = mNew;
        if (alpha != 1f) {
            FloatVector a = FloatVector.broadcast(FS, alpha);
            for (int c = 0; c < hdPad; c += LANES) {
                FloatVector.fromArray(FS, o, oo + c).mul(a).intoArray(o, oo + c);
            }
        }
    }

    /**
     * O[r, :] += Σ_j P[r, j]·V[j, :] over the block's keys: a register tile of 4 rows × 4 vectors of the head
     * dimension, so each probability is broadcast once per key and each V vector feeds 4 FMAs; head sizes that
     * are not whole tiles (the test models') finish with single vectors, then scalars. P's row r at p[po + r·BK],
     * O's at o[oo + r·hdPad]: 4 rows of O are read and written whatever rows is, each only at its first hd columns.
     */
    static void accumulate(float[] p, int po, int rows, int count, float[] v, int v0, int vStride, int hd, float[] o, int oo, int hdPad) {
        accumulate(p, po, BK, rows, count, v, v0, vStride, hd, o, oo, hdPad);
    }

    /** As above, row r of P at p[po + r·ps]. */
    static void accumulate(float[] p, int po, int ps, int rows, int count, float[] v, int v0, int vStride, int hd, float[] o, int oo, int hdPad) {
        int c = 0;
        for (; c + 4 * LANES <= hd; c += 4 * LANES) {
            FloatVector a0 = FloatVector.fromArray(FS, o, oo + c), a1 = FloatVector.fromArray(FS, o, oo + c + LANES);
            FloatVector a2 = FloatVector.fromArray(FS, o, oo + c + 2 * LANES), a3 = FloatVector.fromArray(FS, o, oo + c + 3 * LANES);
            FloatVector b0 = FloatVector.fromArray(FS, o, oo + hdPad + c), b1 = FloatVector.fromArray(FS, o, oo + hdPad + c + LANES);
            FloatVector b2 = FloatVector.fromArray(FS, o, oo + hdPad + c + 2 * LANES), b3 = FloatVector.fromArray(FS, o, oo + hdPad + c + 3 * LANES);
            FloatVector c0 = FloatVector.fromArray(FS, o, oo + 2 * hdPad + c), c1 = FloatVector.fromArray(FS, o, oo + 2 * hdPad + c + LANES);
            FloatVector c2 = FloatVector.fromArray(FS, o, oo + 2 * hdPad + c + 2 * LANES), c3 = FloatVector.fromArray(FS, o, oo + 2 * hdPad + c + 3 * LANES);
            FloatVector d0 = FloatVector.fromArray(FS, o, oo + 3 * hdPad + c), d1 = FloatVector.fromArray(FS, o, oo + 3 * hdPad + c + LANES);
            FloatVector d2 = FloatVector.fromArray(FS, o, oo + 3 * hdPad + c + 2 * LANES), d3 = FloatVector.fromArray(FS, o, oo + 3 * hdPad + c + 3 * LANES);
            for (int j = 0, vj = v0 + c; j < count; j++, vj += vStride) {
                FloatVector x0 = FloatVector.fromArray(FS, v, vj);
                FloatVector x1 = FloatVector.fromArray(FS, v, vj + 1 * LANES);
                FloatVector x2 = FloatVector.fromArray(FS, v, vj + 2 * LANES);
                FloatVector x3 = FloatVector.fromArray(FS, v, vj + 3 * LANES);
                FloatVector pa = FloatVector.broadcast(FS, p[po + j]);
                a0 = x0.fma(pa, a0);
                a1 = x1.fma(pa, a1);
                a2 = x2.fma(pa, a2);
                a3 = x3.fma(pa, a3);
                if (rows > 1) {
                    FloatVector pb = FloatVector.broadcast(FS, p[po + ps + j]);
                    b0 = x0.fma(pb, b0);
                    b1 = x1.fma(pb, b1);
                    b2 = x2.fma(pb, b2);
                    b3 = x3.fma(pb, b3);
                    if (rows > 2) {
                        FloatVector pc = FloatVector.broadcast(FS, p[po + 2 * ps + j]);
                        c0 = x0.fma(pc, c0);
                        c1 = x1.fma(pc, c1);
                        c2 = x2.fma(pc, c2);
                        c3 = x3.fma(pc, c3);
                        if (rows > 3) {
                            FloatVector pd = FloatVector.broadcast(FS, p[po + 3 * ps + j]);
                            d0 = x0.fma(pd, d0);
                            d1 = x1.fma(pd, d1);
                            d2 = x2.fma(pd, d2);
                            d3 = x3.fma(pd, d3);
                        }
                    }
                }
            }
            // stores stay in this method: a vector handed to a helper C2 does not inline is boxed
            a0.intoArray(o, oo + c);
            a1.intoArray(o, oo + c + LANES);
            a2.intoArray(o, oo + c + 2 * LANES);
            a3.intoArray(o, oo + c + 3 * LANES);
            b0.intoArray(o, oo + hdPad + c);
            b1.intoArray(o, oo + hdPad + c + LANES);
            b2.intoArray(o, oo + hdPad + c + 2 * LANES);
            b3.intoArray(o, oo + hdPad + c + 3 * LANES);
            c0.intoArray(o, oo + 2 * hdPad + c);
            c1.intoArray(o, oo + 2 * hdPad + c + LANES);
            c2.intoArray(o, oo + 2 * hdPad + c + 2 * LANES);
            c3.intoArray(o, oo + 2 * hdPad + c + 3 * LANES);
            d0.intoArray(o, oo + 3 * hdPad + c);
            d1.intoArray(o, oo + 3 * hdPad + c + LANES);
            d2.intoArray(o, oo + 3 * hdPad + c + 2 * LANES);
            d3.intoArray(o, oo + 3 * hdPad + c + 3 * LANES);
        }
        accumulateRest(p, po, ps, rows, count, v, v0, vStride, hd, o, oo, hdPad, c);
    }

    /**
     * As {@link #accumulate} with tiles of 4 rows × 2 vectors (8 accumulators + 2 value vectors + a broadcast:
     * 16-register hosts), then single vectors and scalars for the rest of the head.
     */
    static void accumulateHalf(float[] p, int po, int rows, int count, float[] v, int v0, int vStride, int hd, float[] o, int oo, int hdPad) {
        accumulateHalf(p, po, BK, rows, count, v, v0, vStride, hd, o, oo, hdPad);
    }

    /** As above, row r of P at p[po + r·ps]. */
    static void accumulateHalf(float[] p, int po, int ps, int rows, int count, float[] v, int v0, int vStride, int hd, float[] o, int oo, int hdPad) {
        int c = 0;
        for (; c + 2 * LANES <= hd; c += 2 * LANES) {
            FloatVector a0 = FloatVector.fromArray(FS, o, oo + c), a1 = FloatVector.fromArray(FS, o, oo + c + LANES);
            FloatVector b0 = FloatVector.fromArray(FS, o, oo + hdPad + c), b1 = FloatVector.fromArray(FS, o, oo + hdPad + c + LANES);
            FloatVector c0 = FloatVector.fromArray(FS, o, oo + 2 * hdPad + c), c1 = FloatVector.fromArray(FS, o, oo + 2 * hdPad + c + LANES);
            FloatVector d0 = FloatVector.fromArray(FS, o, oo + 3 * hdPad + c), d1 = FloatVector.fromArray(FS, o, oo + 3 * hdPad + c + LANES);
            for (int j = 0, vj = v0 + c; j < count; j++, vj += vStride) {
                FloatVector x0 = FloatVector.fromArray(FS, v, vj);
                FloatVector x1 = FloatVector.fromArray(FS, v, vj + LANES);
                FloatVector pa = FloatVector.broadcast(FS, p[po + j]);
                a0 = x0.fma(pa, a0);
                a1 = x1.fma(pa, a1);
                if (rows > 1) {
                    FloatVector pb = FloatVector.broadcast(FS, p[po + ps + j]);
                    b0 = x0.fma(pb, b0);
                    b1 = x1.fma(pb, b1);
                    if (rows > 2) {
                        FloatVector pc = FloatVector.broadcast(FS, p[po + 2 * ps + j]);
                        c0 = x0.fma(pc, c0);
                        c1 = x1.fma(pc, c1);
                        if (rows > 3) {
                            FloatVector pd = FloatVector.broadcast(FS, p[po + 3 * ps + j]);
                            d0 = x0.fma(pd, d0);
                            d1 = x1.fma(pd, d1);
                        }
                    }
                }
            }
            a0.intoArray(o, oo + c);
            a1.intoArray(o, oo + c + LANES);
            b0.intoArray(o, oo + hdPad + c);
            b1.intoArray(o, oo + hdPad + c + LANES);
            c0.intoArray(o, oo + 2 * hdPad + c);
            c1.intoArray(o, oo + 2 * hdPad + c + LANES);
            d0.intoArray(o, oo + 3 * hdPad + c);
            d1.intoArray(o, oo + 3 * hdPad + c + LANES);
        }
        accumulateRest(p, po, ps, rows, count, v, v0, vStride, hd, o, oo, hdPad, c);
    }

    /**
     * Columns [c, hd) of an output tile, what both tile shapes leave: single vectors for head sizes that are not
     * whole tiles, then scalars for the last few columns.
     */
    private static void accumulateRest(float[] p, int po, int ps, int rows, int count, float[] v, int v0, int vStride, int hd,
                                       float[] o, int oo, int hdPad, int c) {
        for (; c + LANES <= hd; c += LANES) {               // head sizes that are not whole tiles: one vector
            FloatVector a = FloatVector.fromArray(FS, o, oo + c), b = FloatVector.fromArray(FS, o, oo + hdPad + c);
            FloatVector e = FloatVector.fromArray(FS, o, oo + 2 * hdPad + c), f = FloatVector.fromArray(FS, o, oo + 3 * hdPad + c);
            for (int j = 0, vj = v0 + c; j < count; j++, vj += vStride) {
                FloatVector x = FloatVector.fromArray(FS, v, vj);
                a = x.fma(FloatVector.broadcast(FS, p[po + j]), a);
                b = x.fma(FloatVector.broadcast(FS, p[po + ps + j]), b);
                e = x.fma(FloatVector.broadcast(FS, p[po + 2 * ps + j]), e);
                f = x.fma(FloatVector.broadcast(FS, p[po + 3 * ps + j]), f);
            }
            a.intoArray(o, oo + c);
            b.intoArray(o, oo + hdPad + c);
            e.intoArray(o, oo + 2 * hdPad + c);
            f.intoArray(o, oo + 3 * hdPad + c);
        }
        for (; c < hd; c++) {                                // and the last few columns
            for (int j = 0; j < count; j++) {
                float vv = v[v0 + j * vStride + c];
                for (int r = 0; r < rows; r++) {
                    o[oo + r * hdPad + c] += p[po + r * ps + j] * vv;
                }
            }
        }
    }

    static int roundUp(int n, int multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }

    /** The obviously correct kernel, kept for tests: one full softmax row at a time, in double. */
    public static void reference(Operand q, Operand k, Operand v, Operand out, int nq, int nk, int nHeads, int nKvHeads,
                                 int hd, float scale, int causalPos0, float[][][] bias) {
        int group = nHeads / nKvHeads;
        for (int h = 0; h < nHeads; h++) {
            int g = h / group;
            for (int i = 0; i < nq; i++) {
                int keys = causalPos0 < 0 ? nk : Math.min(nk, causalPos0 + i + 1);
                double[] p = new double[keys];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < keys; j++) {
                    double dot = 0;
                    for (int c = 0; c < hd; c++) {
                        dot += (double) q.data()[q.at(i, h, hd) + c] * k.data()[k.at(j, g, hd) + c];
                    }
                    p[j] = dot * scale + (bias == null ? 0 : bias[h][i][j]);
                    max = Math.max(max, p[j]);
                }
                double sum = 0;
                for (int j = 0; j < keys; j++) {
                    p[j] = Math.exp(p[j] - max);
                    sum += p[j];
                }
                for (int c = 0; c < hd; c++) {
                    double acc = 0;
                    for (int j = 0; j < keys; j++) {
                        acc += p[j] / sum * v.data()[v.at(j, g, hd) + c];
                    }
                    out.data()[out.at(i, h, hd) + c] = (float) acc;
                }
            }
        }
    }
}
