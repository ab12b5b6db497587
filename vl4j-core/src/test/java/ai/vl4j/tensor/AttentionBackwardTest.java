package ai.vl4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The blocked attention backward against the gradients computed in double from the definition (softmax, then the
 * chain rule, no log-sum-exp): odd row counts (one row, part of a 4-row tile, part of a key block, several key
 * blocks and query chunks), grouped kv heads, head sizes of whole and partial register tiles, causal or not, a
 * causal window that starts past key 0, and operands that are windows of fused buffers. Bound: per tensor,
 * max |got − ref| ≤ 1e-5 · max |ref| (float32 dot products of ≤ 136 terms and sums of ≤ 130 rows, the forward's
 * float lse and a 2-ulp exp: at most 1.1e-6 measured, with 256- and 128-bit vectors).
 */
class AttentionBackwardTest {
    private static final double TOL = 1e-5;

    record Case(int nq, int nk, int heads, int kvHeads, int hd, int causalPos0, boolean fused) {
        @Override
        public String toString() {
            return "nq=" + nq + " nk=" + nk + " heads=" + heads + "/" + kvHeads + " hd=" + hd + " causal=" + causalPos0
                    + (fused ? " fused" : "");
        }
    }

    static Stream<Case> cases() {
        List<Case> cases = new ArrayList<>();
        for (int nq : new int[] {1, 7, 33}) {
            for (int hd : new int[] {16, 64, 128}) {
                cases.add(new Case(nq, nq, 4, 2, hd, 0, false));          // causal, GQA (2 heads per kv head)
                cases.add(new Case(nq, nq, 4, 2, hd, -1, false));         // full (the vision tower's)
            }
        }
        cases.add(new Case(70, 75, 3, 3, 40, 5, false));                   // queries are the last rows; 5 + 3 vectors of head
        cases.add(new Case(70, 70, 6, 2, 24, 0, true));                    // fused qkv and dqkv, groups of 3
        cases.add(new Case(33, 33, 3, 1, 64, -1, true));
        cases.add(new Case(130, 130, 2, 1, 16, 0, false));                 // several query chunks per key block
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void blockedMatchesDoubleReference(Case c) {
        Random rnd = new Random(31L * c.nq() + c.hd() + c.heads());
        int d = c.heads() * c.hd();
        int kv = c.kvHeads() * c.hd();
        // forward operands: separate buffers, or windows of one [n, d + 2·kv + 3] buffer (a fused qkv with slack)
        int width = c.fused() ? d + 2 * kv + 3 : 0;
        int rowsMax = Math.max(c.nq(), c.nk());
        float[] fused = new float[rowsMax * width];
        float[] qData = c.fused() ? fused : new float[c.nq() * d];
        float[] kData = c.fused() ? fused : new float[c.nk() * kv];
        float[] vData = c.fused() ? fused : new float[c.nk() * kv];
        Attention.Operand q = c.fused() ? new Attention.Operand(fused, width, 0) : new Attention.Operand(qData, d, 0);
        Attention.Operand k = c.fused() ? new Attention.Operand(fused, width, d) : new Attention.Operand(kData, kv, 0);
        Attention.Operand v = c.fused() ? new Attention.Operand(fused, width, d + kv) : new Attention.Operand(vData, kv, 0);
        fill(q, c.nq(), c.heads(), c.hd(), rnd, 1.5);                     // peaked softmax rows
        fill(k, c.nk(), c.kvHeads(), c.hd(), rnd, 1.5);
        fill(v, c.nk(), c.kvHeads(), c.hd(), rnd, 1);
        float[] dOutData = new float[c.nq() * d];
        Attention.Operand dOut = new Attention.Operand(dOutData, d, 0);
        fill(dOut, c.nq(), c.heads(), c.hd(), rnd, 1);
        float scale = (float) (1 / Math.sqrt(c.hd()));

        float[] outData = new float[c.nq() * d];
        Attention.Operand out = new Attention.Operand(outData, d, 0);
        float[] lse = new float[c.heads() * c.nq()];
        Attention.multiHead(q, k, v, out, c.nq(), c.nk(), c.heads(), c.kvHeads(), c.hd(), scale, c.causalPos0(), null, lse);

        // gradients: windows of one buffer [rows, d + 2·kv + 5] whose other columns must stay as they were
        int gw = d + 2 * kv + 5;
        float[] grads = new float[rowsMax * gw];
        java.util.Arrays.fill(grads, 7f);
        Attention.Operand dq = new Attention.Operand(grads, gw, 1);
        Attention.Operand dk = new Attention.Operand(grads, gw, d + 2);
        Attention.Operand dv = new Attention.Operand(grads, gw, d + kv + 3);
        AttentionBackward.multiHead(q, k, v, out, dOut, lse, dq, dk, dv, c.nq(), c.nk(), c.heads(), c.kvHeads(), c.hd(),
                scale, c.causalPos0());

        double[][] ref = reference(q, k, v, dOut, c, scale);               // dq [nq·d], dk [nk·kv], dv [nk·kv]
        double dvMax = check("dv", ref[2], dv, c.nk(), c.kvHeads(), c.hd(), 0);
        // one causal row sees one key: its probability is 1 whatever the score, so dq and dk are 0 (measured against dv's size)
        check("dq", ref[0], dq, c.nq(), c.heads(), c.hd(), dvMax);
        check("dk", ref[1], dk, c.nk(), c.kvHeads(), c.hd(), dvMax);
        int[] untouched = {0, d + 1, d + kv + 2, d + 2 * kv + 3, d + 2 * kv + 4};
        for (int row = 0; row < rowsMax; row++) {
            for (int col : untouched) {
                assertEquals(7f, grads[row * gw + col], "column " + col + " of row " + row + " is outside dq, dk and dv");
            }
            if (row >= c.nq()) {
                for (int col = 1; col <= d; col++) {
                    assertEquals(7f, grads[row * gw + col], "dq row " + row + " is past the queries");
                }
            }
        }
    }

    @Test
    void aSecondCallWithFewerKeysIsNotDisturbedByTheFirst() {
        // scratch is kept per thread and grown: a long call, then a short one on the same threads
        blockedMatchesDoubleReference(new Case(130, 130, 2, 1, 16, -1, false));
        blockedMatchesDoubleReference(new Case(7, 7, 2, 1, 16, -1, false));
    }

    /** dK and dV's kernel in both register tilings (a run takes one, by the host's registers) and every tail. */
    @ParameterizedTest(name = "wide={0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void transposedProductInBothTilings(boolean wide) {
        Random rnd = new Random(wide ? 3 : 4);
        int bk = Attention.BK;
        for (int[] shape : new int[][] {{1, 1, 16}, {7, bk, 40}, {33, bk - 1, 64}, {70, 5, 128}, {3, bk, 136}}) {
            int n = shape[0], count = shape[1], hd = shape[2];
            int os = hd + 3;
            float[] a = new float[n * bk];
            float[] x = new float[2 + n * hd];
            float[] o = new float[1 + bk * os];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) rnd.nextGaussian();
            }
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            for (int i = 0; i < o.length; i++) {
                o[i] = (float) rnd.nextGaussian();
            }
            float[] before = o.clone();
            AttentionBackward.accumulateTransposed(a, n, count, x, 2, hd, o, 1, os, wide);
            for (int j = 0; j < bk; j++) {
                for (int c = -1; c < os - 1; c++) {
                    int at = 1 + j * os + c;
                    double ref = before[at];
                    if (j < count && c >= 0 && c < hd) {
                        for (int i = 0; i < n; i++) {
                            ref += (double) a[i * bk + j] * x[2 + i * hd + c];
                        }
                    }
                    assertEquals(ref, o[at], 1e-5 * (1 + Math.sqrt(n)), "n=" + n + " count=" + count + " hd=" + hd + " key " + j + " column " + c);
                }
            }
        }
    }

    private static void fill(Attention.Operand x, int rows, int heads, int hd, Random rnd, double sigma) {
        for (int i = 0; i < rows; i++) {
            for (int h = 0; h < heads; h++) {
                for (int c = 0; c < hd; c++) {
                    x.data()[x.at(i, h, hd) + c] = (float) (sigma * rnd.nextGaussian());
                }
            }
        }
    }

    /** Max |ref|, after asserting max |got − ref| ≤ TOL · max |ref| (or TOL · whenZero where ref is all zero). */
    private static double check(String name, double[] ref, Attention.Operand got, int rows, int heads, int hd, double whenZero) {
        double max = 0;
        double err = 0;
        for (int i = 0; i < rows; i++) {
            for (int h = 0; h < heads; h++) {
                for (int c = 0; c < hd; c++) {
                    double r = ref[(i * heads + h) * hd + c];
                    max = Math.max(max, Math.abs(r));
                    err = Math.max(err, Math.abs(got.data()[got.at(i, h, hd) + c] - r));
                }
            }
        }
        double norm = max > 0 ? max : whenZero;
        assertTrue(norm > 0, name + " and what it is measured against are all zero in the reference");
        assertTrue(err <= TOL * norm, name + ": max error " + err + " against max |ref| " + norm + " (" + err / norm + ")");
        return max;
    }

    /** dq, dk, dv in double from the definition: p = softmax(scale·q·kᵀ) per row, then the chain rule. */
    private static double[][] reference(Attention.Operand q, Attention.Operand k, Attention.Operand v, Attention.Operand dOut,
                                        Case c, float scale) {
        int hd = c.hd();
        int group = c.heads() / c.kvHeads();
        double[] dq = new double[c.nq() * c.heads() * hd];
        double[] dk = new double[c.nk() * c.kvHeads() * hd];
        double[] dv = new double[c.nk() * c.kvHeads() * hd];
        for (int h = 0; h < c.heads(); h++) {
            int g = h / group;
            for (int i = 0; i < c.nq(); i++) {
                int keys = c.causalPos0() < 0 ? c.nk() : Math.min(c.nk(), c.causalPos0() + i + 1);
                double[] p = new double[keys];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < keys; j++) {
                    p[j] = scale * dot(q, i, h, k, j, g, hd);
                    max = Math.max(max, p[j]);
                }
                double sum = 0;
                for (int j = 0; j < keys; j++) {
                    p[j] = Math.exp(p[j] - max);
                    sum += p[j];
                }
                double[] dp = new double[keys];
                double dDot = 0;                          // Σ_j p_ij·dP_ij = dO_i·O_i
                for (int j = 0; j < keys; j++) {
                    p[j] /= sum;
                    dp[j] = dot(dOut, i, h, v, j, g, hd);
                    dDot += p[j] * dp[j];
                }
                for (int j = 0; j < keys; j++) {
                    double ds = p[j] * (dp[j] - dDot);
                    for (int e = 0; e < hd; e++) {
                        dq[(i * c.heads() + h) * hd + e] += scale * ds * k.data()[k.at(j, g, hd) + e];
                        dk[(j * c.kvHeads() + g) * hd + e] += scale * ds * q.data()[q.at(i, h, hd) + e];
                        dv[(j * c.kvHeads() + g) * hd + e] += p[j] * dOut.data()[dOut.at(i, h, hd) + e];
                    }
                }
            }
        }
        return new double[][] {dq, dk, dv};
    }

    private static double dot(Attention.Operand a, int i, int h, Attention.Operand b, int j, int g, int hd) {
        double s = 0;
        for (int e = 0; e < hd; e++) {
            s += (double) a.data()[a.at(i, h, hd) + e] * b.data()[b.at(j, g, hd) + e];
        }
        return s;
    }
}
