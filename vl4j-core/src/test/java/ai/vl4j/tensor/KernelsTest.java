package ai.vl4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Kernels against slow double-precision references (the ggml lesson: test ops, not only end to end). */
class KernelsTest {

    @Test
    void erfMatchesKnownValuesAndItsReference() {
        double[][] known = {{0.1, 0.1124629160182849}, {0.5, 0.5204998778130465}, {1, 0.8427007929497149},
                {2, 0.9953222650189527}, {3, 0.9999779095030014}, {4, 0.9999999845827421}};
        for (double[] k : known) {
            assertEquals(k[1], Erf.erf(k[0]), 5e-15, "erf(" + k[0] + ")");
            assertEquals(-k[1], Erf.erf(-k[0]), 5e-15, "erf(-" + k[0] + ")");
            assertEquals(k[1], Erf.reference(k[0]), 1e-15, "reference erf(" + k[0] + ")");
        }
        double worst = 0;
        for (double x = -7; x < 7; x += 1e-3) {
            worst = Math.max(worst, Math.abs(Erf.erf(x) - Erf.reference(x)));
        }
        assertTrue(worst < 1e-14, "fast erf off by " + worst);
        assertEquals(1.0, Erf.erf(40), 0);
        assertEquals(0.8413447460685429 * 1.0, Erf.gelu(1f), 1e-7); // GELU(1) = Φ(1)
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void linearMatchesDoubleReference(DType dtype) {
        Random rnd = new Random(7);
        for (int[] shape : new int[][] {{1, 37, 19}, {1, 96, 5}, {3, 64, 33}, {4, 200, 9}, {5, 64, 33}, {8, 130, 9}, {9, 130, 8}, {2, 3, 1}, {13, 600, 50}, {7, 513, 97}, {20, 64, 96}, {6, 16, 48}}) {
            int n = shape[0], k = shape[1], m = shape[2];
            float[] wValues = new float[m * k];
            float[] x = new float[n * k];
            float[] bias = new float[m];
            for (int i = 0; i < wValues.length; i++) {
                wValues[i] = (float) rnd.nextGaussian();
            }
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            for (int i = 0; i < m; i++) {
                bias[i] = (float) rnd.nextGaussian();
            }
            Tensor w = Tensor.ofFloats("w", wValues, m, k).convertTo(dtype);
            float[] out = new float[n * m];
            float[] ref = new float[n * m];
            MatMul.linear(x, n, w, bias, out);
            MatMul.reference(x, n, w, bias, ref);
            for (int i = 0; i < n * m; i++) {
                assertEquals(ref[i], out[i], 1e-4 * Math.sqrt(k), dtype + " " + n + "x" + k + "x" + m + " at " + i);
            }
        }
    }

    /**
     * The fused pass over several matrices (q/k/v, gate/up) gives each matrix exactly what its own product gives,
     * for every decode batch size (the kernels' regimes: 1–4 vectors, 5–8, and GEMM beyond) and storage kind.
     */
    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "PACKED"})
    void linearManyEqualsSeparateProducts(String kind) {
        Random rnd = new Random(11);
        int k = 160;
        int[] rows = {37, 16, 21};
        WeightMatrix[] ws = new WeightMatrix[rows.length];
        for (int i = 0; i < rows.length; i++) {
            Tensor dense = QuantizationTest.randomMatrix(rnd, rows[i], k);
            ws[i] = weight(kind, dense);
        }
        for (int n : new int[] {1, 2, 4, 5, 7, 8, 9}) {
            float[] x = new float[n * k];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            float[][] fused = new float[rows.length][];
            for (int i = 0; i < rows.length; i++) {
                fused[i] = new float[n * rows[i]];
            }
            MatMul.linearMany(x, n, ws, fused);
            for (int i = 0; i < rows.length; i++) {
                float[] alone = new float[n * rows[i]];
                MatMul.linear(x, n, ws[i], null, alone);
                assertArrayEquals(alone, fused[i], kind + " n=" + n + " matrix " + i);
            }
        }
    }

    /**
     * Batch invariance of the decode kernels: each row of a DECODE product is bit-identical to the product of that
     * row alone, for every batch size (the 4-row single-vector kernel, the 2 × 4 tile, the 2 × 8 tile where the
     * host has it, several groups), every storage kind, a width with a tail (k not a multiple of any block) and a
     * bias. A PREFILL product's rows are likewise those of any split of its rows into pieces.
     */
    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "PACKED"})
    void eachRowIsTheSameInAnyBatchAndAnySplit(String kind) {
        Random rnd = new Random(5);
        int k = 181;
        int m = 37;
        Tensor dense = QuantizationTest.randomMatrix(rnd, m, k);
        WeightMatrix w = weight(kind, dense);
        float[] bias = new float[m];
        for (int r = 0; r < m; r++) {
            bias[r] = (float) rnd.nextGaussian();
        }
        int most = 13;
        float[] x = new float[most * k];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[][] alone = new float[most][m];
        for (int i = 0; i < most; i++) {
            MatMul.linear(java.util.Arrays.copyOfRange(x, i * k, (i + 1) * k), 1, w, bias, alone[i], MatMul.Regime.DECODE);
        }
        for (int n = 1; n <= most; n++) {
            float[] out = new float[n * m];
            MatMul.linear(x, n, w, bias, out, MatMul.Regime.DECODE);
            for (int i = 0; i < n; i++) {
                assertArrayEquals(alone[i], java.util.Arrays.copyOfRange(out, i * m, (i + 1) * m), kind + ": row " + i + " of " + n);
            }
        }
        float[] whole = new float[most * m];
        MatMul.linear(x, most, w, bias, whole, MatMul.Regime.PREFILL);
        int[] cuts = {0, 1, 6, 7, most};
        for (int c = 0; c + 1 < cuts.length; c++) {
            int rows = cuts[c + 1] - cuts[c];
            float[] piece = new float[rows * m];
            MatMul.linear(java.util.Arrays.copyOfRange(x, cuts[c] * k, cuts[c + 1] * k), rows, w, bias, piece, MatMul.Regime.PREFILL);
            assertArrayEquals(java.util.Arrays.copyOfRange(whole, cuts[c] * m, cuts[c + 1] * m), piece, kind + ": prefill rows from " + cuts[c]);
        }
    }

    /** A weight of this kind made from dense values: a dtype, a quantization, or PACKED (BF16 in column panels). */
    private static WeightMatrix weight(String kind, Tensor dense) {
        if (kind.equals("PACKED")) {
            return PackedWeight.pack(dense.convertTo(DType.BF16));
        }
        return kind.startsWith("Q") ? QuantizedTensor.quantize(dense, QuantType.parse(kind), Arena.ofAuto())
                : dense.convertTo(DType.valueOf(kind));
    }

    /**
     * BF16 weights in column panels: decode's broadcast-form products equal the double-precision reference within
     * the dense kernels' bound (odd widths, a last panel cut short, every tile: 1 to 13 rows), each output is one
     * FMA chain over the columns in order (checked bit for bit against that chain in scalar code), and prefill's
     * GEMM, widening the panels, gives the bits it gives reading the stored tensor.
     */
    @Test
    void packedWeightsMultiplyAsTheirTensor() {
        Random rnd = new Random(23);
        for (int[] shape : new int[][] {{1, 1, 1}, {1, 37, 19}, {2, 3, 7}, {3, 64, 33}, {4, 200, 9}, {5, 65, 40},
                {8, 130, 9}, {9, 131, 64}, {13, 96, 37}, {1, 2048, 72}, {8, 512, 100}}) {
            int n = shape[0], k = shape[1], m = shape[2];
            Tensor bf16 = Tensor.ofFloats("w", random(rnd, m * k), m, k).convertTo(DType.BF16);
            PackedWeight packed = PackedWeight.pack(bf16);
            assertEquals(m, packed.rows());
            assertEquals(k, packed.cols());
            float[] x = random(rnd, n * k);
            float[] bias = random(rnd, m);
            float[] out = new float[n * m];
            float[] ref = new float[n * m];
            MatMul.linear(x, n, packed, bias, out, MatMul.Regime.DECODE);
            MatMul.reference(x, n, bf16, bias, ref);
            float[] row = new float[k];
            for (int i = 0; i < n; i++) {
                for (int r = 0; r < m; r++) {
                    assertEquals(ref[i * m + r], out[i * m + r], 1e-4 * Math.sqrt(k), n + "x" + k + "x" + m + " at " + i + "," + r);
                    bf16.rowToFloat(r, 0, k, row, 0);
                    float chain = 0;
                    for (int c = 0; c < k; c++) {
                        chain = Math.fma(row[c], x[i * k + c], chain);
                    }
                    assertEquals(Float.floatToRawIntBits(chain + bias[r]), Float.floatToRawIntBits(out[i * m + r]),
                            "the FMA chain of " + n + "x" + k + "x" + m + " at " + i + "," + r);
                }
            }
            float[] prefillPacked = new float[n * m];
            float[] prefillStored = new float[n * m];
            MatMul.linear(x, n, packed, bias, prefillPacked, MatMul.Regime.PREFILL);
            MatMul.linear(x, n, bf16, bias, prefillStored, MatMul.Regime.PREFILL);
            assertArrayEquals(prefillStored, prefillPacked, "prefill " + n + "x" + k + "x" + m);
            float[] back = new float[n * k];
            float[] backStored = new float[n * k];
            MatMul.backwardInput(out, n, packed, back);
            MatMul.backwardInput(out, n, bf16, backStored);
            assertArrayEquals(backStored, back, "backward " + n + "x" + k + "x" + m);
            packed.close();
        }
    }

    /** FastMath.exp: within 2 ulps of e^x, the vector lanes bit for bit the scalar form, and the edges. */
    @Test
    void expIsAccurateAndTheSameInVectorsAndScalars() {
        jdk.incubator.vector.VectorSpecies<Float> fs = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        Random rnd = new Random(3);
        float[] xs = new float[4096 * fs.length()];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) (rnd.nextDouble() * 180 - 90);
        }
        xs[0] = Float.NEGATIVE_INFINITY;
        xs[1] = 0f;
        xs[2] = -0f;
        xs[3] = Float.NaN;
        xs[4] = Float.POSITIVE_INFINITY;
        xs[5] = -87.3f;
        xs[6] = 88.29f;
        xs[7] = 1e-30f;
        float[] ys = new float[xs.length];
        for (int i = 0; i < xs.length; i += fs.length()) {
            FastMath.exp(jdk.incubator.vector.FloatVector.fromArray(fs, xs, i)).intoArray(ys, i);
        }
        for (int i = 0; i < xs.length; i++) {
            float scalar = FastMath.exp(xs[i]);
            assertEquals(Float.floatToIntBits(scalar), Float.floatToIntBits(ys[i]), "lane vs scalar at x = " + xs[i]);
            float exact = (float) Math.exp(xs[i]);
            if (Float.isNaN(xs[i])) {
                assertTrue(Float.isNaN(scalar));
            } else if (xs[i] < FastMath.EXP_MIN) {
                assertEquals(0f, scalar, "x = " + xs[i]);
            } else if (xs[i] > FastMath.EXP_MAX) {
                assertEquals(Float.POSITIVE_INFINITY, scalar, "x = " + xs[i]);
            } else {
                assertTrue(Math.abs(scalar - exact) <= 2 * Math.ulp(exact), "x = " + xs[i] + ": " + scalar + " vs " + exact);
            }
        }
    }

    /** The fused streaming kernel against one-softmax-row-at-a-time double precision, over awkward sizes. */
    @Test
    void fusedAttentionMatchesReference() {
        Random rnd = new Random(3);
        // nq, past keys, heads, kv heads, head dim, causal
        int[][] cases = {{5, 4, 4, 2, 6, 1}, {1, 150, 4, 4, 64, 1}, {70, 0, 2, 2, 14, 1}, {37, 0, 3, 3, 16, 0},
                {9, 0, 2, 1, 128, 0}, {130, 3, 2, 2, 64, 1},
                // without a mask: several groups of query quads (the last partial), several wide key steps (the last partial)
                {150, 0, 2, 2, 64, 0}, {70, 301, 2, 1, 16, 0},
                // one query row (decode): the real head size, grouped kv heads, key counts off the vector width
                {1, 639, 16, 16, 128, 1}, {1, 40, 4, 2, 128, 1}, {1, 5, 4, 2, 6, 1}, {1, 36, 2, 1, 14, 1}, {1, 19, 3, 3, 16, 0}};
        for (int[] c : cases) {
            int nq = c[0], past = c[1], heads = c[2], kvHeads = c[3], hd = c[4];
            boolean causal = c[5] == 1;
            int nk = past + nq;
            float[] q = random(rnd, nq * heads * hd);
            float[] k = random(rnd, nk * kvHeads * hd);
            float[] v = random(rnd, nk * kvHeads * hd);
            float[] out = new float[nq * heads * hd];
            float[] ref = new float[nq * heads * hd];
            float scale = 0.4f;
            Attention.Operand qo = new Attention.Operand(q, heads * hd, 0);
            Attention.Operand ko = new Attention.Operand(k, kvHeads * hd, 0);
            Attention.Operand vo = new Attention.Operand(v, kvHeads * hd, 0);
            Attention.multiHead(qo, ko, vo, new Attention.Operand(out, heads * hd, 0), nq, nk, heads, kvHeads, hd, scale,
                    causal ? past : -1);
            Attention.reference(qo, ko, vo, new Attention.Operand(ref, heads * hd, 0), nq, nk, heads, kvHeads, hd, scale,
                    causal ? past : -1, null);
            for (int i = 0; i < out.length; i++) {
                assertEquals(ref[i], out[i], 1e-5, java.util.Arrays.toString(c) + " at " + i);
            }
        }
    }

    /**
     * Causal attention: each query row of a many-row call (several groups of quads, rows sharing a quad with others
     * of other causal limits) is bit-identical to the same row attended alone, as a prompt cut at any row computes it.
     */
    @Test
    void causalRowsAreTheSameAloneAsInAnyCall() {
        Random rnd = new Random(12);
        int nq = 133, past = 30, heads = 3, kvHeads = 1, hd = 20;
        int nk = past + nq;
        float[] q = random(rnd, nq * heads * hd);
        float[] k = random(rnd, nk * kvHeads * hd);
        float[] v = random(rnd, nk * kvHeads * hd);
        float[] out = new float[nq * heads * hd];
        Attention.Operand ko = new Attention.Operand(k, kvHeads * hd, 0);
        Attention.Operand vo = new Attention.Operand(v, kvHeads * hd, 0);
        Attention.multiHead(new Attention.Operand(q, heads * hd, 0), ko, vo, new Attention.Operand(out, heads * hd, 0), nq, nk, heads,
                kvHeads, hd, 0.3f, past);
        for (int i : new int[] {0, 1, 5, 63, 64, 67, 100, 132}) {
            float[] alone = new float[heads * hd];
            Attention.multiHead(new Attention.Operand(q, heads * hd, i * heads * hd), ko, vo, new Attention.Operand(alone, heads * hd, 0),
                    1, past + i + 1, heads, kvHeads, hd, 0.3f, past + i);
            assertArrayEquals(alone, java.util.Arrays.copyOfRange(out, i * heads * hd, (i + 1) * heads * hd), "row " + i);
        }
    }

    /** Widening an array of bfloat16 bits (vector body, scalar tail, offsets) equals one value at a time. */
    @Test
    void bf16ArraysWidenExactly() {
        Random rnd = new Random(8);
        short[] bits = new short[100];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = Widen.floatToBf16((float) rnd.nextGaussian() * 1e3f);
        }
        bits[5] = (short) 0x8000;                          // -0
        bits[6] = (short) 0x7f80;                          // +Inf
        float[] out = new float[110];
        Widen.bf16ToFloat(bits, 3, out, 7, 91);
        for (int i = 0; i < 91; i++) {
            assertEquals(Float.floatToRawIntBits(Widen.bf16ToFloat(bits[3 + i])), Float.floatToRawIntBits(out[7 + i]), "value " + i);
        }
        assertEquals(0f, out[6]);
        assertEquals(0f, out[98]);
    }

    /**
     * Rounding an array to bfloat16 (vector body, scalar tail, offsets) gives the bits of one value at a time:
     * ties to even both ways, NaN kept a NaN, infinities, signed zeros, subnormals, values that round up to infinity.
     */
    @Test
    void floatArraysRoundToBf16AsOneValueAtATime() {
        Random rnd = new Random(9);
        float[] src = new float[203];
        for (int i = 0; i < src.length; i++) {
            src[i] = switch (i % 5) {
                case 0 -> (float) rnd.nextGaussian();
                case 1 -> Float.intBitsToFloat(rnd.nextInt());                          // any bits: NaNs, subnormals, huge
                case 2 -> Float.intBitsToFloat((rnd.nextInt() & 0xffff0000) | 0x8000);  // an exact tie
                case 3 -> (float) rnd.nextGaussian() * 1e-39f;
                default -> (float) rnd.nextGaussian() * 1e30f;
            };
        }
        float[] special = {Float.NaN, Float.intBitsToFloat(0x7f800001), Float.intBitsToFloat(0xffc00000), Float.POSITIVE_INFINITY,
                Float.NEGATIVE_INFINITY, 0f, -0f, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE, Float.intBitsToFloat(0x3f808000),
                Float.intBitsToFloat(0x3f818000)};
        System.arraycopy(special, 0, src, 40, special.length);
        java.lang.foreign.MemorySegment dst = java.lang.foreign.Arena.ofAuto().allocate(2L * 220);
        Widen.floatToBf16(src, 3, dst, 2L * 5, 197);
        for (int i = 0; i < 197; i++) {
            assertEquals(Widen.floatToBf16(src[3 + i]), dst.get(Widen.I16_LE, 2L * (5 + i)), "value " + i + ": " + src[3 + i]);
        }
        assertEquals(0, dst.get(Widen.I16_LE, 2L * 4));
        assertEquals(0, dst.get(Widen.I16_LE, 2L * 202));
        assertEquals((short) 0x3f80, Widen.floatToBf16(Float.intBitsToFloat(0x3f808000)));   // tie to the even 0x3f80
        assertEquals((short) 0x3f82, Widen.floatToBf16(Float.intBitsToFloat(0x3f818000)));   // tie to the even 0x3f82
        assertTrue(Float.isNaN(Widen.bf16ToFloat(Widen.floatToBf16(Float.intBitsToFloat(0x7f800001)))));
    }

    /** Decode over a bfloat16 cache equals the reference over the same keys and values rounded to bfloat16. */
    @Test
    void bf16CacheDecodeMatchesReferenceOnRoundedValues() {
        Random rnd = new Random(4);
        // keys, heads, kv heads, head dim: the real head size (8-register path) and others; key counts off the vector width
        int[][] cases = {{640, 16, 16, 128}, {41, 4, 2, 128}, {5, 4, 2, 6}, {37, 2, 1, 14}, {19, 3, 3, 16}};
        for (int[] c : cases) {
            int keys = c[0], heads = c[1], kvHeads = c[2], hd = c[3];
            int kvDim = kvHeads * hd;
            int stride = (keys + Attention.BK - 1) / Attention.BK * Attention.BK;
            float[] q = random(rnd, heads * hd);
            float[] k = random(rnd, keys * kvDim);
            float[] v = random(rnd, keys * kvDim);
            // the KV cache's layouts: Kᵀ in tiles per kv head, values as rows of the head size per kv head
            int headStride = hd * stride;
            short[] kT16 = new short[kvHeads * headStride];
            short[] v16 = new short[kvHeads * headStride];
            for (int j = 0; j < keys; j++) {
                for (int g = 0; g < kvHeads; g++) {
                    for (int d = 0; d < hd; d++) {
                        int e = j * kvDim + g * hd + d;
                        int kAt = Attention.keyIndex(headStride, hd, g, d, j);
                        int vAt = g * headStride + j * hd + d;
                        kT16[kAt] = Widen.floatToBf16(k[e]);
                        v16[vAt] = Widen.floatToBf16(v[e]);
                        k[e] = Widen.bf16ToFloat(kT16[kAt]);
                        v[e] = Widen.bf16ToFloat(v16[vAt]);
                    }
                }
            }
            float[] out = new float[heads * hd];
            float[] ref = new float[heads * hd];
            Attention.decodeBf16(new Attention.Operand(q, heads * hd, 0), kT16, headStride, v16, hd, headStride,
                    new Attention.Operand(out, heads * hd, 0), keys, heads, kvHeads, hd, 0.3f);
            Attention.reference(new Attention.Operand(q, heads * hd, 0), new Attention.Operand(k, kvDim, 0), new Attention.Operand(v, kvDim, 0),
                    new Attention.Operand(ref, heads * hd, 0), 1, keys, heads, kvHeads, hd, 0.3f, -1, null);
            for (int i = 0; i < out.length; i++) {
                assertEquals(ref[i], out[i], 1e-5, java.util.Arrays.toString(c) + " at " + i);
            }
        }
    }

    /** Additive score terms go in before the softmax, per (head, query, key), over several key steps and query groups. */
    @Test
    void attentionBiasIsAddedBeforeTheSoftmax() {
        Random rnd = new Random(9);
        int n = 300, heads = 2, hd = 16;
        float[] qkv = random(rnd, n * 3 * heads * hd);
        float[][][] table = new float[heads][n][n];
        for (float[][] t : table) {
            for (float[] row : t) {
                for (int j = 0; j < n; j++) {
                    row[j] = (float) rnd.nextGaussian();
                }
            }
        }
        Attention.ScoreBias bias = new Attention.ScoreBias() {
            @Override
            public int termsLength() {
                return n + 1;
            }

            @Override
            public void terms(int head, int queryRow, float[] dst, int off) {
                dst[off] = head;
                System.arraycopy(table[head][queryRow], 0, dst, off + 1, n);
            }

            @Override
            public void add(float[] terms, int termsOff, int keyStart, float[] scores, int scoresOff, int count) {
                for (int j = 0; j < count; j++) {
                    scores[scoresOff + j] += terms[termsOff + 1 + keyStart + j];
                }
            }
        };
        int w = 3 * heads * hd;
        float[] out = new float[n * heads * hd];
        float[] ref = new float[n * heads * hd];
        Attention.multiHead(new Attention.Operand(qkv, w, 0), new Attention.Operand(qkv, w, heads * hd),
                new Attention.Operand(qkv, w, 2 * heads * hd), new Attention.Operand(out, heads * hd, 0), n, n, heads, heads, hd, 0.25f, -1, bias);
        Attention.reference(new Attention.Operand(qkv, w, 0), new Attention.Operand(qkv, w, heads * hd),
                new Attention.Operand(qkv, w, 2 * heads * hd), new Attention.Operand(ref, heads * hd, 0), n, n, heads, heads, hd, 0.25f, -1, table);
        for (int i = 0; i < out.length; i++) {
            assertEquals(ref[i], out[i], 1e-5, "at " + i);
        }
    }

    @Test
    void layerNormAndRmsNorm() {
        float[] x = {1, 2, 3, 4, -1, 0, 0, 1};
        float[] out = new float[8];
        Norms.layerNorm(x, out, 2, 4, new float[] {1, 1, 1, 1}, new float[] {0, 0, 0, 0}, 1e-6f);
        double std = Math.sqrt(1.25 + 1e-6);
        assertEquals(-1.5 / std, out[0], 1e-6);
        assertEquals(1.5 / std, out[3], 1e-6);
        Norms.rmsNorm(x, out, 2, 4, new float[] {2, 2, 2, 2}, 1e-6f);
        assertEquals(2 * 4 / Math.sqrt(7.5 + 1e-6), out[3], 1e-6);
        assertEquals(2 * -1 / Math.sqrt(0.5 + 1e-6), out[4], 1e-6);
    }

    /**
     * The vectorised LayerNorm and RMSNorm against their definitions in double, on rows of widths around the vector
     * lengths (tails included) and a row with a large mean and a tiny spread (the case centring in double is for):
     * each output within a float rounding of the double result, the RMSNorm exactly its scalar formula.
     */
    @Test
    void normsMatchTheirDefinitionOnEveryWidth() {
        java.util.Random rnd = new java.util.Random(11);
        for (int d : new int[] {1, 3, 7, 8, 9, 16, 17, 63, 256, 257, 1031}) {
            int n = 5;
            float[] x = new float[n * d];
            float[] g = new float[d];
            float[] b = new float[d];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (rnd.nextGaussian() * 3 + (i / d == 4 ? 1000 : 0.5));
            }
            for (int i = 0; i < d; i++) {
                x[4 * d + i] = 1000f + (float) rnd.nextGaussian() * 1e-3f;
                g[i] = (float) rnd.nextGaussian();
                b[i] = (float) rnd.nextGaussian();
            }
            float[] ln = new float[x.length];
            float[] rms = new float[x.length];
            Norms.layerNorm(x, ln, n, d, g, b, 1e-5f);
            Norms.rmsNorm(x, rms, n, d, g, 1e-6f);
            for (int r = 0; r < n; r++) {
                double mean = 0, sq = 0, ms = 0;
                for (int i = 0; i < d; i++) {
                    mean += x[r * d + i];
                    ms += (double) x[r * d + i] * x[r * d + i];
                }
                mean /= d;
                for (int i = 0; i < d; i++) {
                    sq += (x[r * d + i] - mean) * (x[r * d + i] - mean);
                }
                double inv = 1 / Math.sqrt(sq / d + 1e-5f);
                float invRms = (float) (1 / Math.sqrt(ms / d + 1e-6f));
                for (int i = 0; i < d; i++) {
                    double normed = (x[r * d + i] - mean) * inv;
                    double want = normed * g[i] + b[i];
                    assertEquals(want, ln[r * d + i], 2e-6 * (Math.abs(normed * g[i]) + Math.abs(b[i]) + 1e-3),
                            "layerNorm width " + d + " row " + r + " at " + i);
                    assertEquals(g[i] * (x[r * d + i] * invRms), rms[r * d + i], 2e-7 * Math.abs(rms[r * d + i]),
                            "rmsNorm width " + d + " row " + r + " at " + i);
                }
            }
        }
    }

    @Test
    void parallelLoopsCoverEveryIndexOnce() {
        int[] hits = new int[10_007];
        Parallel.forRange(0, hits.length, 13, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                hits[i]++;
            }
        });
        int[] each = new int[43];
        Parallel.forEachIndex(3, each.length, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                each[i]++;
            }
        });
        for (int i = 0; i < hits.length; i++) {
            assertEquals(1, hits[i], "index " + i);
        }
        for (int i = 0; i < each.length; i++) {
            assertEquals(i < 3 ? 0 : 1, each[i], "index " + i);
        }
    }

    /** Adding a constant plus a run of terms to scores gives the scalar formula's bits, vector body and tail alike. */
    @Test
    void addingAConstantPlusTermsEqualsTheScalarFormula() {
        Random rnd = new Random(14);
        for (int n : new int[] {0, 1, 7, 64, 70}) {
            float[] y = random(rnd, n + 5);
            float[] x = random(rnd, n + 3);
            float c = (float) rnd.nextGaussian();
            float[] want = y.clone();
            for (int i = 0; i < n; i++) {
                want[2 + i] += c + x[3 + i];
            }
            VectorMath.addInPlace(y, 2, c, x, 3, n);
            assertArrayEquals(want, y, "n=" + n);
        }
    }

    /** RoPE's rotate-half with vectors gives the scalar formula's bits (whole vectors and a scalar tail). */
    @Test
    void rotateHalfEqualsTheScalarFormula() {
        Random rnd = new Random(12);
        for (int half : new int[] {64, 7, 19}) {
            float[] x = random(rnd, 2 * half + 5);
            float[] cos = random(rnd, half + 3);
            float[] sin = random(rnd, half + 3);
            float[] expected = x.clone();
            for (int j = 0; j < half; j++) {
                float a = x[2 + j];
                float b = x[2 + half + j];
                expected[2 + j] = a * cos[3 + j] - b * sin[3 + j];
                expected[2 + half + j] = b * cos[3 + j] + a * sin[3 + j];
            }
            VectorMath.rotateHalf(x, 2, half, cos, sin, 3);
            for (int i = 0; i < x.length; i++) {
                assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(x[i]), "half " + half + " at " + i);
            }
        }
    }

    private static float[] random(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }
}
