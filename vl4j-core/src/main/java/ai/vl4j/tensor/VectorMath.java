package ai.vl4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/** Small vectorised loops over float arrays (dot, add), scalar tails included. */
public final class VectorMath {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = FS.length();
    // lane i takes lane i + s (mod LANES): the steps of sumLanes' tree
    private static final VectorShuffle<Float> UP_8 = VectorShuffle.fromOp(FS, i -> (i + 8) % LANES);
    private static final VectorShuffle<Float> UP_4 = VectorShuffle.fromOp(FS, i -> (i + 4) % LANES);
    private static final VectorShuffle<Float> UP_2 = VectorShuffle.fromOp(FS, i -> (i + 2) % LANES);
    private static final VectorShuffle<Float> UP_1 = VectorShuffle.fromOp(FS, i -> (i + 1) % LANES);

    private VectorMath() {
    }

    /** Σ a[aOff+i]·b[bOff+i], i < n. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int lanes = FS.length();
        int i = 0;
        float sum = 0f;
        if (n >= lanes) {
            FloatVector acc = FloatVector.zero(FS);
            for (; i <= n - lanes; i += lanes) {
                acc = FloatVector.fromArray(FS, a, aOff + i).fma(FloatVector.fromArray(FS, b, bOff + i), acc);
            }
            sum = sumLanes(acc);
        }
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    /**
     * out[to + c] = Σ_{i &lt; k} w[wOff + i]·g[gOff + i·stride + c] for c &lt; count: a weighted sum of k rows (each
     * weight broadcast, vectors along the columns), one fused multiply-add chain per column in i order from zero.
     */
    static void combine(float[] g, int gOff, int stride, int k, float[] w, int wOff, float[] out, int to, int count) {
        int lanes = FS.length();
        int c = 0;
        for (; c <= count - 4 * lanes; c += 4 * lanes) {          // four columns' vectors: four independent chains
            FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
            for (int i = 0, r = gOff + c; i < k; i++, r += stride) {
                FloatVector wi = FloatVector.broadcast(FS, w[wOff + i]);
                a0 = FloatVector.fromArray(FS, g, r).fma(wi, a0);
                a1 = FloatVector.fromArray(FS, g, r + lanes).fma(wi, a1);
                a2 = FloatVector.fromArray(FS, g, r + 2 * lanes).fma(wi, a2);
                a3 = FloatVector.fromArray(FS, g, r + 3 * lanes).fma(wi, a3);
            }
            a0.intoArray(out, to + c);
            a1.intoArray(out, to + c + lanes);
            a2.intoArray(out, to + c + 2 * lanes);
            a3.intoArray(out, to + c + 3 * lanes);
        }
        for (; c <= count - lanes; c += lanes) {
            FloatVector acc = FloatVector.zero(FS);
            for (int i = 0; i < k; i++) {
                acc = FloatVector.fromArray(FS, g, gOff + i * stride + c).fma(FloatVector.broadcast(FS, w[wOff + i]), acc);
            }
            acc.intoArray(out, to + c);
        }
        for (; c < count; c++) {
            float acc = 0f;
            for (int i = 0; i < k; i++) {
                acc = Math.fma(g[gOff + i * stride + c], w[wOff + i], acc);
            }
            out[to + c] = acc;
        }
    }

    /**
     * The sum of a vector's lanes in one fixed order, a tree of halves: for 8 lanes ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)).
     * {@code reduceLanes(ADD)} leaves the order open, and C2's order differs from the interpreter's, so a sum would
     * depend on the JIT tier its method runs in; every reduction whose result must not change (decode, batched or
     * not) goes through here.
     */
    static float sumLanes(FloatVector v) {
        if (LANES > 16) {                  // wider than any host's vectors today: in lane order
            float s = 0f;
            for (int i = 0; i < LANES; i++) {
                s += v.lane(i);
            }
            return s;
        }
        if (LANES > 8) {
            v = v.add(v.rearrange(UP_8));
        }
        if (LANES > 4) {
            v = v.add(v.rearrange(UP_4));
        }
        if (LANES > 2) {
            v = v.add(v.rearrange(UP_2));
        }
        if (LANES > 1) {
            v = v.add(v.rearrange(UP_1));
        }
        return v.lane(0);
    }

    /**
     * RoPE's rotate-half of one head: with a = x[off + j], b = x[off + half + j] for j &lt; half,
     * x[off + j] = a·cos[c + j] − b·sin[c + j] and x[off + half + j] = b·cos[c + j] + a·sin[c + j]
     * (each product rounded, then the sum: the same values as the scalar loop).
     */
    public static void rotateHalf(float[] x, int off, int half, float[] cos, float[] sin, int c) {
        int lanes = FS.length();
        int j = 0;
        for (; j <= half - lanes; j += lanes) {
            FloatVector a = FloatVector.fromArray(FS, x, off + j);
            FloatVector b = FloatVector.fromArray(FS, x, off + half + j);
            FloatVector cv = FloatVector.fromArray(FS, cos, c + j);
            FloatVector sv = FloatVector.fromArray(FS, sin, c + j);
            a.mul(cv).sub(b.mul(sv)).intoArray(x, off + j);
            b.mul(cv).add(a.mul(sv)).intoArray(x, off + half + j);
        }
        for (; j < half; j++) {
            float a = x[off + j];
            float b = x[off + half + j];
            x[off + j] = a * cos[c + j] - b * sin[c + j];
            x[off + half + j] = b * cos[c + j] + a * sin[c + j];
        }
    }

    /** y[yOff + i] += x[xOff + i] for i &lt; n (e.g. position embeddings added to one sequence of a batch). */
    public static void addInPlace(float[] y, int yOff, float[] x, int xOff, int n) {
        int lanes = FS.length();
        int i = 0;
        for (; i <= n - lanes; i += lanes) {
            FloatVector.fromArray(FS, y, yOff + i).add(FloatVector.fromArray(FS, x, xOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += x[xOff + i];
        }
    }

    /**
     * y[yOff + i] += c + x[xOff + i] for i &lt; n, the sum c + x rounded first (e.g. two additive score terms, one
     * constant over the run, added to attention scores); the same value in a lane and in the scalar tail.
     */
    public static void addInPlace(float[] y, int yOff, float c, float[] x, int xOff, int n) {
        int lanes = FS.length();
        int i = 0;
        for (; i <= n - lanes; i += lanes) {
            FloatVector t = FloatVector.fromArray(FS, x, xOff + i).add(c);
            FloatVector.fromArray(FS, y, yOff + i).add(t).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += c + x[xOff + i];
        }
    }

    /** y[i] += x[i] over the first n elements (residual connections). */
    public static void addInPlace(float[] y, float[] x, int n) {
        addInPlace(y, 0, x, 0, n);
    }

    /** out[outOff + i] = a[aOff + i] + b[bOff + i] for i &lt; n (e.g. tokens plus their positional encoding). */
    public static void add(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        int lanes = FS.length();
        int i = 0;
        for (; i <= n - lanes; i += lanes) {
            FloatVector.fromArray(FS, a, aOff + i).add(FloatVector.fromArray(FS, b, bOff + i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = a[aOff + i] + b[bOff + i];
        }
    }

    /** out[outOff + i] = s·x[xOff + i] for i &lt; n (may be in place). */
    public static void scale(float[] x, int xOff, float s, float[] out, int outOff, int n) {
        int lanes = FS.length();
        int i = 0;
        for (; i <= n - lanes; i += lanes) {
            FloatVector.fromArray(FS, x, xOff + i).mul(s).intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = x[xOff + i] * s;
        }
    }
}
