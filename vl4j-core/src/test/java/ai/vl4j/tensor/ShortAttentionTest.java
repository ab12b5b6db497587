package ai.vl4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Both layouts of {@link ShortAttention} against {@link Attention#reference}, per item, over awkward sizes. */
class ShortAttentionTest {

    /** batch, nq, nk, heads, head dim, queries shared (1) or per item (0), keys shared or per item. */
    private static final int[][] CASES = {
            {1, 300, 7, 8, 16, 0, 0}, {3, 70, 5, 4, 4, 1, 0}, {2, 9, 19, 3, 6, 0, 1}, {4, 33, 1, 2, 8, 0, 0},
            {2, 41, 17, 2, 20, 1, 0}, {1, 17, 33, 1, 3, 0, 0}};

    @Test
    void fewKeysMatchesReference() {
        check(true);
    }

    @Test
    void fewQueriesMatchesReference() {
        check(false);
    }

    /** expColumns and softmaxRuns: the softmax down each column and along each run, in double precision. */
    @Test
    void columnAndRunSoftmaxesMatchDoublePrecision() {
        Random rnd = new Random(13);
        for (int[] size : new int[][] {{300, 56}, {5, 3}, {70, 17}, {1, 9}}) {
            int rows = size[0], cols = size[1];
            float[] x = random(rnd, rows * cols);
            float[] e = x.clone();
            float[] sums = new float[cols];
            ShortAttention.expColumns(e, rows, cols, sums);
            for (int c = 0; c < cols; c++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int r = 0; r < rows; r++) {
                    max = Math.max(max, x[r * cols + c]);
                }
                double sum = 0;
                for (int r = 0; r < rows; r++) {
                    double want = Math.exp(x[r * cols + c] - max);
                    sum += want;
                    assertEquals(want, e[r * cols + c], 1e-6 * want + 1e-7, Arrays.toString(size) + " at " + r + ", " + c);
                }
                assertEquals(sum, sums[c], 1e-5 * sum, Arrays.toString(size) + " column " + c);
            }
            float[] p = x.clone();
            ShortAttention.softmaxRuns(p, rows, cols);
            for (int r = 0; r < rows; r++) {
                double max = Double.NEGATIVE_INFINITY;
                double sum = 0;
                for (int c = 0; c < cols; c++) {
                    max = Math.max(max, x[r * cols + c]);
                }
                for (int c = 0; c < cols; c++) {
                    sum += Math.exp(x[r * cols + c] - max);
                }
                for (int c = 0; c < cols; c++) {
                    assertEquals(Math.exp(x[r * cols + c] - max) / sum, p[r * cols + c], 1e-6, Arrays.toString(size) + " run " + r);
                }
            }
        }
    }

    private static void check(boolean fewKeys) {
        Random rnd = new Random(fewKeys ? 11 : 12);
        for (int[] c : CASES) {
            int batch = c[0], heads = c[3], hd = c[4];
            // fewKeys: many query rows, few keys; fewQueries: the same sizes the other way round
            int nq = fewKeys ? c[1] : c[2];
            int nk = fewKeys ? c[2] : c[1];
            int width = heads * hd + 3;                    // rows wider than the heads, heads at an offset
            int qItems = c[5] == 1 ? 1 : batch;
            int kItems = c[6] == 1 ? 1 : batch;
            float[] q = random(rnd, qItems * nq * width);
            float[] k = random(rnd, kItems * nk * width);
            float[] v = random(rnd, kItems * nk * width);
            float[] out = new float[batch * nq * width];
            float scale = 0.45f;
            Attention.Operand qo = new Attention.Operand(q, width, 2);
            Attention.Operand ko = new Attention.Operand(k, width, 1);
            Attention.Operand vo = new Attention.Operand(v, width, 3);
            Attention.Operand oo = new Attention.Operand(out, width, 1);
            int qRows = c[5] == 1 ? 0 : nq;
            int kRows = c[6] == 1 ? 0 : nk;
            if (fewKeys) {
                ShortAttention.fewKeys(qo, ko, vo, oo, batch, nq, nk, qRows, kRows, heads, hd, scale);
            } else {
                ShortAttention.fewQueries(qo, ko, vo, oo, batch, nq, nk, qRows, kRows, heads, hd, scale);
            }
            for (int b = 0; b < batch; b++) {
                float[] ref = new float[nq * width];
                Attention.reference(new Attention.Operand(q, width, 2 + b * qRows * width),
                        new Attention.Operand(k, width, 1 + b * kRows * width), new Attention.Operand(v, width, 3 + b * kRows * width),
                        new Attention.Operand(ref, width, 1), nq, nk, heads, heads, hd, scale, -1, null);
                for (int i = 0; i < nq; i++) {
                    for (int e = 1; e < 1 + heads * hd; e++) {
                        assertEquals(ref[i * width + e], out[(b * nq + i) * width + e], 1e-5,
                                Arrays.toString(c) + " item " + b + " row " + i + " value " + e);
                    }
                }
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
