package ai.vl4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Small vectorised loops over float arrays (dot, add), scalar tails included. */
public final class VectorMath {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

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
            sum = acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
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

    /** y[i] += x[i] over the first n elements (residual connections). */
    public static void addInPlace(float[] y, float[] x, int n) {
        int lanes = FS.length();
        int i = 0;
        for (; i <= n - lanes; i += lanes) {
            FloatVector.fromArray(FS, y, i).add(FloatVector.fromArray(FS, x, i)).intoArray(y, i);
        }
        for (; i < n; i++) {
            y[i] += x[i];
        }
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
}
