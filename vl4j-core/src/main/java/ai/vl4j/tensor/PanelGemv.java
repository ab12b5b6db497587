package ai.vl4j.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decode's products with a {@link PackedWeight}: out[b, r] = W[r]·x_b (+ bias[r]) for a few input rows x_b, in the
 * broadcast form. A vector holds L outputs of one panel; each input element x_b[c] is broadcast and multiplies the
 * panel's widened column c:
 * <pre>
 *   acc(b, panel) = 0;   for c = 0, 1, …, k−1 in order:  acc = W[panel rows, c] · x_b[c] + acc   (one FMA)
 *   out = acc (+ bias)
 * </pre>
 * Every output is that one chain, whichever tile computes it, so a sequence's result is bit-identical decoded
 * alone or in a batch of any size. The tiles: 4 input rows × 2 panels (8 accumulators, the panels' widened
 * columns and a broadcast fit AVX2's 16 registers) reuse each weight vector for four rows, reaching the FMA
 * rate where the dot form ({@link Gemv}) is bound by its loads of x; one row × 4 panels streams four panels at
 * once for a lone sequence. Kernels know nothing of models.
 */
final class PanelGemv {
    private static final VectorSpecies<Float> FS = PackedWeight.FS;
    private static final VectorSpecies<Integer> IS = PackedWeight.IS;
    private static final int L = PackedWeight.L;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Panels per work unit: the 1-row tile's width, two 4-row tiles. */
    static final int GROUP = 4;

    private PanelGemv() {
    }

    /** Work units of w (groups of {@link #GROUP} panels). */
    static int units(PackedWeight w) {
        return (w.panelCount() + GROUP - 1) / GROUP;
    }

    /** Units per parallel chunk: about 32k weights of work. */
    static int grain(int k) {
        return Math.max(1, (1 << 15) / Math.max(1, k * L * GROUP));
    }

    /** Outputs of units [lo, hi) of out[b·m + r] = W[r]·x_b (+ bias[r]) for b < n; m = w.rows(). */
    static void units(float[] x, int n, PackedWeight w, float[] bias, float[] out, int lo, int hi) {
        int k = w.cols();
        int m = w.rows();
        MemorySegment seg = w.panels();
        int pairs = k / 2;
        boolean odd = (k & 1) != 0;
        long panelBytes = 4L * w.pairs() * L;
        int pEnd = Math.min(w.panelCount(), hi * GROUP);
        for (int g = lo * GROUP; g < pEnd; g += GROUP) {
            int gEnd = Math.min(pEnd, g + GROUP);
            int b = 0;
            for (; b + 4 <= n; b += 4) {
                int p = g;
                for (; p + 2 <= gEnd; p += 2) {
                    tile4x2(x, b * k, k, seg, p * panelBytes, panelBytes, pairs, odd, bias, out, b * m, m, p * L);
                }
                for (; p < gEnd; p++) {
                    for (int r = b; r < b + 4; r++) {
                        tile1x1(x, r * k, seg, p * panelBytes, pairs, odd, bias, out, r * m, m, p * L);
                    }
                }
            }
            for (; b < n; b++) {
                if (gEnd - g == GROUP) {
                    tile1x4(x, b * k, seg, g * panelBytes, panelBytes, pairs, odd, bias, out, b * m, m, g * L);
                } else {
                    for (int p = g; p < gEnd; p++) {
                        tile1x1(x, b * k, seg, p * panelBytes, pairs, odd, bias, out, b * m, m, p * L);
                    }
                }
            }
        }
    }

    private static FloatVector evens(IntVector words) {
        return words.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static FloatVector odds(IntVector words) {
        return words.and(0xFFFF0000).reinterpretAsFloats();
    }

    private static IntVector words(MemorySegment seg, long at) {
        return IntVector.fromMemorySegment(IS, seg, at, LE);
    }

    /** Four rows (x from xa, stride k) × panels at a, a + panelBytes: 8 accumulators. */
    private static void tile4x2(float[] x, int xa, int k, MemorySegment seg, long a, long panelBytes, int pairs, boolean odd,
                                float[] bias, float[] out, int oa, int m, int col) {
        long a1 = a + panelBytes;
        int x0 = xa, x1 = xa + k, x2 = xa + 2 * k, x3 = xa + 3 * k;
        FloatVector c00 = FloatVector.zero(FS), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int q = 0; q < pairs; q++) {
            long at = 4L * q * L;
            int e = 2 * q;
            FloatVector w0 = evens(words(seg, a + at));
            FloatVector w1 = evens(words(seg, a1 + at));
            FloatVector s;
            s = FloatVector.broadcast(FS, x[x0 + e]);
            c00 = w0.fma(s, c00);
            c01 = w1.fma(s, c01);
            s = FloatVector.broadcast(FS, x[x1 + e]);
            c10 = w0.fma(s, c10);
            c11 = w1.fma(s, c11);
            s = FloatVector.broadcast(FS, x[x2 + e]);
            c20 = w0.fma(s, c20);
            c21 = w1.fma(s, c21);
            s = FloatVector.broadcast(FS, x[x3 + e]);
            c30 = w0.fma(s, c30);
            c31 = w1.fma(s, c31);
            w0 = odds(words(seg, a + at));        // reloaded from L1: keeping the words would take two more registers
            w1 = odds(words(seg, a1 + at));
            s = FloatVector.broadcast(FS, x[x0 + e + 1]);
            c00 = w0.fma(s, c00);
            c01 = w1.fma(s, c01);
            s = FloatVector.broadcast(FS, x[x1 + e + 1]);
            c10 = w0.fma(s, c10);
            c11 = w1.fma(s, c11);
            s = FloatVector.broadcast(FS, x[x2 + e + 1]);
            c20 = w0.fma(s, c20);
            c21 = w1.fma(s, c21);
            s = FloatVector.broadcast(FS, x[x3 + e + 1]);
            c30 = w0.fma(s, c30);
            c31 = w1.fma(s, c31);
        }
        if (odd) {                                 // the last column alone: the low halves of the last words
            long at = 4L * pairs * L;
            int e = 2 * pairs;
            FloatVector w0 = evens(words(seg, a + at));
            FloatVector w1 = evens(words(seg, a1 + at));
            FloatVector s;
            s = FloatVector.broadcast(FS, x[x0 + e]);
            c00 = w0.fma(s, c00);
            c01 = w1.fma(s, c01);
            s = FloatVector.broadcast(FS, x[x1 + e]);
            c10 = w0.fma(s, c10);
            c11 = w1.fma(s, c11);
            s = FloatVector.broadcast(FS, x[x2 + e]);
            c20 = w0.fma(s, c20);
            c21 = w1.fma(s, c21);
            s = FloatVector.broadcast(FS, x[x3 + e]);
            c30 = w0.fma(s, c30);
            c31 = w1.fma(s, c31);
        }
        store(c00, bias, out, oa, m, col);
        store(c01, bias, out, oa, m, col + L);
        store(c10, bias, out, oa + m, m, col);
        store(c11, bias, out, oa + m, m, col + L);
        store(c20, bias, out, oa + 2 * m, m, col);
        store(c21, bias, out, oa + 2 * m, m, col + L);
        store(c30, bias, out, oa + 3 * m, m, col);
        store(c31, bias, out, oa + 3 * m, m, col + L);
    }

    /** One row × four panels (from a, panelBytes apart): four streams, one broadcast per column. */
    private static void tile1x4(float[] x, int xa, MemorySegment seg, long a, long panelBytes, int pairs, boolean odd,
                                float[] bias, float[] out, int oa, int m, int col) {
        long a1 = a + panelBytes, a2 = a1 + panelBytes, a3 = a2 + panelBytes;
        FloatVector c0 = FloatVector.zero(FS), c1 = c0, c2 = c0, c3 = c0;
        for (int q = 0; q < pairs; q++) {
            long at = 4L * q * L;
            IntVector v0 = words(seg, a + at);
            IntVector v1 = words(seg, a1 + at);
            IntVector v2 = words(seg, a2 + at);
            IntVector v3 = words(seg, a3 + at);
            FloatVector s = FloatVector.broadcast(FS, x[xa + 2 * q]);
            c0 = evens(v0).fma(s, c0);
            c1 = evens(v1).fma(s, c1);
            c2 = evens(v2).fma(s, c2);
            c3 = evens(v3).fma(s, c3);
            s = FloatVector.broadcast(FS, x[xa + 2 * q + 1]);
            c0 = odds(v0).fma(s, c0);
            c1 = odds(v1).fma(s, c1);
            c2 = odds(v2).fma(s, c2);
            c3 = odds(v3).fma(s, c3);
        }
        if (odd) {
            long at = 4L * pairs * L;
            FloatVector s = FloatVector.broadcast(FS, x[xa + 2 * pairs]);
            c0 = evens(words(seg, a + at)).fma(s, c0);
            c1 = evens(words(seg, a1 + at)).fma(s, c1);
            c2 = evens(words(seg, a2 + at)).fma(s, c2);
            c3 = evens(words(seg, a3 + at)).fma(s, c3);
        }
        store(c0, bias, out, oa, m, col);
        store(c1, bias, out, oa, m, col + L);
        store(c2, bias, out, oa, m, col + 2 * L);
        store(c3, bias, out, oa, m, col + 3 * L);
    }

    /** One row × one panel (the odd panels and rows at the edges). */
    private static void tile1x1(float[] x, int xa, MemorySegment seg, long a, int pairs, boolean odd,
                                float[] bias, float[] out, int oa, int m, int col) {
        FloatVector c = FloatVector.zero(FS);
        for (int q = 0; q < pairs; q++) {
            IntVector v = words(seg, a + 4L * q * L);
            c = evens(v).fma(FloatVector.broadcast(FS, x[xa + 2 * q]), c);
            c = odds(v).fma(FloatVector.broadcast(FS, x[xa + 2 * q + 1]), c);
        }
        if (odd) {
            c = evens(words(seg, a + 4L * pairs * L)).fma(FloatVector.broadcast(FS, x[xa + 2 * pairs]), c);
        }
        store(c, bias, out, oa, m, col);
    }

    /** out[oa + col + j] = c[j] (+ bias[col + j]) for the lanes inside the m outputs. */
    private static void store(FloatVector c, float[] bias, float[] out, int oa, int m, int col) {
        if (col + L <= m) {
            (bias == null ? c : c.add(FloatVector.fromArray(FS, bias, col))).intoArray(out, oa + col);
        } else {
            for (int j = 0; col + j < m; j++) {
                float s = c.lane(j);
                out[oa + col + j] = bias == null ? s : s + bias[col + j];
            }
        }
    }
}
