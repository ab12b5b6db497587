package ai.vl4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vectorised activations in float32, within a few float ulps of their double-precision definitions.
 *
 * <p>GELU needs erf, which the Vector API lacks. With z = |x|/√2 and t = 2/(2 + z), erfc(z) = t·exp(−z² + f(t))
 * where f is smooth on t ∈ (0, 1] (f(1) = 0, f(0⁺) = −ln(2√π)); f is fitted once, at class load, by a
 * Chebyshev series computed from {@link Erf#reference}, and evaluated per lane with Clenshaw's recurrence.
 * Then GELU(x) = ½·x·erfc(−x/√2) = x − ½·x·erfc(z) for x ≥ 0 and ½·x·erfc(z) for x < 0, which keeps full
 * relative precision in both tails.
 */
public final class FastMath {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int TERMS = 14;
    /** Chebyshev coefficients of f(t) in s = 2t − 1 (c0 halved). */
    private static final float[] COEFFS = fit();
    /** √(2/π), the scale inside the tanh GELU. */
    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    private FastMath() {
    }

    /** erfc(z) for z ≥ 0 (lanes of a vector). */
    static FloatVector erfcNonNegative(FloatVector z) {
        FloatVector t = FloatVector.broadcast(FS, 2f).div(z.add(2f));
        FloatVector s = t.mul(2f).sub(1f);
        FloatVector s2 = s.mul(2f);
        FloatVector b1 = FloatVector.zero(FS);
        FloatVector b2 = FloatVector.zero(FS);
        for (int k = TERMS - 1; k >= 1; k--) {
            FloatVector b0 = s2.fma(b1, b2.neg()).add(COEFFS[k]);
            b2 = b1;
            b1 = b0;
        }
        FloatVector f = s.fma(b1, b2.neg()).add(COEFFS[0]);
        return t.mul(f.sub(z.mul(z)).lanewise(VectorOperators.EXP));
    }

    /** Exact-erf GELU on x[0 .. n) in place, vectorised (scalar {@link Erf#gelu} for the tail). */
    public static void gelu(float[] x, int from, int to) {
        int i = from;
        for (; i <= to - FS.length(); i += FS.length()) {
            FloatVector v = FloatVector.fromArray(FS, x, i);
            FloatVector half = v.mul(0.5f);
            FloatVector e = erfcNonNegative(v.abs().mul(0.70710678118654752f));
            FloatVector negative = half.mul(e);                 // x < 0: ½·x·erfc(|x|/√2)
            FloatVector positive = v.sub(negative);             // x ≥ 0: x − ½·x·erfc(x/√2)
            VectorMask<Float> neg = v.compare(VectorOperators.LT, 0f);
            positive.blend(negative, neg).intoArray(x, i);
        }
        for (; i < to; i++) {
            x[i] = Erf.gelu(x[i]);
        }
    }

    /**
     * Tanh-approximated GELU on x[from .. to) in place (PyTorch's {@code gelu(approximate="tanh")}, HF's
     * {@code gelu_pytorch_tanh} / {@code gelu_new}): ½·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), computed as
     * x·σ(2u) = x / (1 + e^(−2u)), the same function without the cancellation of 1 + tanh(u) for negative x.
     */
    public static void geluTanh(float[] x, int from, int to) {
        int i = from;
        for (; i <= to - FS.length(); i += FS.length()) {
            FloatVector v = FloatVector.fromArray(FS, x, i);
            FloatVector twoU = v.mul(v).mul((float) (2 * SQRT_2_OVER_PI * 0.044715)).add((float) (2 * SQRT_2_OVER_PI)).mul(v);
            v.div(twoU.neg().lanewise(VectorOperators.EXP).add(1f)).intoArray(x, i);
        }
        for (; i < to; i++) {
            double v = x[i];
            x[i] = (float) (v / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))));
        }
    }

    /** CLIP's quick GELU on x[from .. to) in place: x·σ(1.702·x) = x / (1 + e^(−1.702·x)). */
    public static void quickGelu(float[] x, int from, int to) {
        int i = from;
        for (; i <= to - FS.length(); i += FS.length()) {
            FloatVector v = FloatVector.fromArray(FS, x, i);
            v.div(v.mul(-1.702f).lanewise(VectorOperators.EXP).add(1f)).intoArray(x, i);
        }
        for (; i < to; i++) {
            float v = x[i];
            x[i] = (float) (v / (1.0 + Math.exp(-1.702f * v)));
        }
    }

    /** gate[i] = silu(gate[i])·up[i] = gate[i]/(1 + e^−gate[i])·up[i], vectorised. */
    public static void siluMul(float[] gate, float[] up, int from, int to) {
        int i = from;
        for (; i <= to - FS.length(); i += FS.length()) {
            FloatVector g = FloatVector.fromArray(FS, gate, i);
            FloatVector sig = g.neg().lanewise(VectorOperators.EXP).add(1f);
            g.div(sig).mul(FloatVector.fromArray(FS, up, i)).intoArray(gate, i);
        }
        for (; i < to; i++) {
            float z = gate[i];
            gate[i] = (float) (z / (1.0 + Math.exp(-z))) * up[i];
        }
    }

    /** f(t) = ln(erfc(z)/t) + z², z = 2/t − 2, sampled at Chebyshev nodes of t ∈ [0, 1] (double precision). */
    private static float[] fit() {
        double[] samples = new double[TERMS];
        for (int j = 0; j < TERMS; j++) {
            double s = Math.cos(Math.PI * (j + 0.5) / TERMS);
            double t = (s + 1) / 2;
            double z = 2 / t - 2;
            samples[j] = logScaledErfc(z) - Math.log(t);
        }
        float[] c = new float[TERMS];
        for (int k = 0; k < TERMS; k++) {
            double sum = 0;
            for (int j = 0; j < TERMS; j++) {
                sum += samples[j] * Math.cos(Math.PI * k * (j + 0.5) / TERMS);
            }
            c[k] = (float) ((k == 0 ? 1.0 : 2.0) / TERMS * sum);
        }
        return c;
    }

    /**
     * ln(erfc(z)) + z² for z ≥ 0, without underflow: beyond z = 2 from the continued fraction
     * erfc(z) = e^(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …)))).
     */
    static double logScaledErfc(double z) {
        if (z < 2) {
            return Math.log(1 - Erf.reference(z)) + z * z;
        }
        double k = z;
        for (int n = 400; n >= 1; n--) {
            k = z + (n * 0.5) / k;
        }
        return -0.5 * Math.log(Math.PI) - Math.log(k);
    }
}
