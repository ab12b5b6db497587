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
}
