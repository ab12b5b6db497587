package ai.vl4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vectorised activations in float32, within a few float ulps of their double-precision definitions.
 *
 * <p>GELU needs erf, which the Vector API lacks. With z = |x|/√2 and t = 2/(2 + z), erfc(z) = t·exp(−z² + f(t))
 * where f is smooth on t ∈ (0, 1] (f(1) = 0, f(0⁺) = −ln(2√π)); f is fitted once, at class load, by a
 * Chebyshev series of 11 terms computed from {@link Erf#reference} (against the double-precision erfc, 9 terms
 * raise the error and more do not lower it), expanded once into powers of s = 2t − 1 and evaluated per lane by
 * Horner's rule (one fused multiply-add a term, where Clenshaw's recurrence on the series takes three).
 * Then GELU(x) = ½·x·erfc(−x/√2) = x − ½·x·erfc(z) for x ≥ 0 and ½·x·erfc(z) for x < 0, which keeps full
 * relative precision in both tails.
 *
 * <p>Every exponential here is {@link #exp}: built from additions, multiplications and fused multiply-adds only,
 * so a lane gives the same bits as the scalar form, in interpreted and in compiled code, on every host. The
 * Vector API's {@code lanewise(EXP)} does not: C2 computes it with a vector math library, the interpreter with
 * {@code Math.exp}, so a result would change with the JIT tier a method happens to run in, and with it the
 * answer of a sequence decoded alone or in a batch.
 */
public final class FastMath {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int TERMS = 11;
    /** Power-series coefficients of f in s = 2t − 1 ({@link #fit}'s Chebyshev series, expanded in double): f(s) = Σ_k P[k]·s^k. */
    private static final float[] POWERS = powers(fit());
    /** √(2/π), the scale inside the tanh GELU. */
    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    // exp(x) = 2^n · e^r with n = round(x·log2 e), r = x − n·ln 2 (in two parts), |r| ≤ ln2/2
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;              // 9 bits: n·LN2_HI is exact for |n| < 2^15
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUNDER = 0x1.8p23f;                // adding it rounds to an integer (ties to even)
    private static final int ROUNDER_BITS = Float.floatToRawIntBits(ROUNDER);
    /** Below: e^x is under the smallest normal float (flushed to 0). Above: n could reach 128 (taken as +∞; e^88.3 ≈ 2.1e38). */
    static final float EXP_MIN = -87.33654475f;
    static final float EXP_MAX = 88.3f;
    // Taylor coefficients of e^r to r^7 (error < 6e-9 relative for |r| ≤ ln2/2)
    private static final float C2 = 1f / 2, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720, C7 = 1f / 5040;

    private FastMath() {
    }

    /**
     * e^x per lane within 2 ulps, 0 below {@link #EXP_MIN}, +∞ above {@link #EXP_MAX}, NaN for NaN; bit for bit
     * {@link #exp(float)} of each lane.
     */
    public static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(EXP_MIN).min(EXP_MAX);
        FloatVector t = xc.fma(LOG2E, ROUNDER);                  // ROUNDER + round(x·log2 e)
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(FS, -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(FS, -LN2_LO), r);
        FloatVector p = r.fma(C7, C6);
        p = p.fma(r, FloatVector.broadcast(FS, C5));
        p = p.fma(r, FloatVector.broadcast(FS, C4));
        p = p.fma(r, FloatVector.broadcast(FS, C3));
        p = p.fma(r, FloatVector.broadcast(FS, C2));
        p = p.fma(r, FloatVector.broadcast(FS, 1f));
        p = p.fma(r, FloatVector.broadcast(FS, 1f));
        IntVector e = t.reinterpretAsInts().sub(ROUNDER_BITS - 127).lanewise(VectorOperators.LSHL, 23);   // 2^n
        FloatVector y = p.mul(e.reinterpretAsFloats());
        return y.blend(0f, x.compare(VectorOperators.LT, EXP_MIN)).blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_MAX));
    }

    /** e^x: the same operations as {@link #exp(FloatVector)} on one value. */
    public static float exp(float x) {
        float xc = Math.min(Math.max(x, EXP_MIN), EXP_MAX);
        float t = Math.fma(xc, LOG2E, ROUNDER);
        float n = t - ROUNDER;
        float r = Math.fma(n, -LN2_HI, xc);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, C7, C6);
        p = Math.fma(p, r, C5);
        p = Math.fma(p, r, C4);
        p = Math.fma(p, r, C3);
        p = Math.fma(p, r, C2);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        float y = p * Float.intBitsToFloat((Float.floatToRawIntBits(t) - (ROUNDER_BITS - 127)) << 23);
        return x < EXP_MIN ? 0f : x > EXP_MAX ? Float.POSITIVE_INFINITY : y;
    }

    /** erfc(z) for z ≥ 0 (lanes of a vector): f by Horner's rule in s, one fused multiply-add a term. */
    static FloatVector erfcNonNegative(FloatVector z) {
        FloatVector t = FloatVector.broadcast(FS, 2f).div(z.add(2f));
        FloatVector s = t.mul(2f).sub(1f);
        FloatVector f = FloatVector.broadcast(FS, POWERS[TERMS - 1]);
        for (int k = TERMS - 2; k >= 0; k--) {
            f = f.fma(s, FloatVector.broadcast(FS, POWERS[k]));
        }
        return t.mul(exp(f.sub(z.mul(z))));
    }

    /** dst[to .. to + count) = GELU(x[from .. from + count) + b) (the tail of count past whole vectors scalar). */
    static void geluBiased(float[] x, int from, float b, float[] dst, int to, int count) {
        int i = 0;
        for (; i <= count - FS.length(); i += FS.length()) {
            gelu(FloatVector.fromArray(FS, x, from + i).add(b)).intoArray(dst, to + i);
        }
        for (; i < count; i++) {
            dst[to + i] = Erf.gelu(x[from + i] + b);
        }
    }

    /** Exact-erf GELU of each lane of v. */
    static FloatVector gelu(FloatVector v) {
        FloatVector half = v.mul(0.5f);
        FloatVector e = erfcNonNegative(v.abs().mul(0.70710678118654752f));
        FloatVector negative = half.mul(e);                 // x < 0: ½·x·erfc(|x|/√2)
        FloatVector positive = v.sub(negative);             // x ≥ 0: x − ½·x·erfc(x/√2)
        return positive.blend(negative, v.compare(VectorOperators.LT, 0f));
    }

    /** Exact-erf GELU on x[0 .. n) in place, vectorised (scalar {@link Erf#gelu} for the tail). */
    public static void gelu(float[] x, int from, int to) {
        int i = from;
        for (; i <= to - FS.length(); i += FS.length()) {
            gelu(FloatVector.fromArray(FS, x, i)).intoArray(x, i);
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
            v.div(exp(twoU.neg()).add(1f)).intoArray(x, i);
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
            v.div(exp(v.mul(-1.702f)).add(1f)).intoArray(x, i);
        }
        for (; i < to; i++) {
            float v = x[i];
            x[i] = (float) (v / (1.0 + Math.exp(-1.702f * v)));
        }
    }

    /** out[i] = silu(gate[i])·up[i] = gate[i]/(1 + e^−gate[i])·up[i], vectorised (out may be gate). */
    public static void siluMul(float[] gate, float[] up, float[] out, int from, int to) {
        int i = from;
        for (; i <= to - FS.length(); i += FS.length()) {
            FloatVector g = FloatVector.fromArray(FS, gate, i);
            FloatVector sig = exp(g.neg()).add(1f);
            g.div(sig).mul(FloatVector.fromArray(FS, up, i)).intoArray(out, i);
        }
        for (; i < to; i++) {                       // the same operations: a value's result is where it lies
            float z = gate[i];
            out[i] = z / (exp(-z) + 1f) * up[i];
        }
    }

    /**
     * Backward of {@link #siluMul} over [from, to): with σ = 1/(1 + e^−g), dGate = dAct·u·σ·(1 + g·(1 − σ)) and
     * dUp = dAct·g·σ, in float32 with this class's exp (a few ulps of the double-precision definition).
     */
    public static void siluMulBackward(float[] gate, float[] up, float[] dAct, float[] dGate, float[] dUp, int from, int to) {
        int i = from;
        for (; i <= to - FS.length(); i += FS.length()) {
            FloatVector g = FloatVector.fromArray(FS, gate, i);
            FloatVector e = exp(g.neg());
            FloatVector sig = FloatVector.broadcast(FS, 1f).div(e.add(1f));
            // 1 − σ = e^−g·σ for g ≥ 0 (the subtraction would lose it there), 1 − σ ≥ ½ below
            FloatVector rest = sig.neg().add(1f).blend(e.mul(sig), g.compare(VectorOperators.GE, 0f));
            FloatVector d = FloatVector.fromArray(FS, dAct, i);
            FloatVector gs = g.mul(sig);                                      // silu(g)
            FloatVector dSilu = gs.fma(rest, sig);                            // σ·(1 + g·(1 − σ)) = σ + silu(g)·(1 − σ)
            d.mul(FloatVector.fromArray(FS, up, i)).mul(dSilu).intoArray(dGate, i);
            d.mul(gs).intoArray(dUp, i);
        }
        for (; i < to; i++) {                       // the same operations, one value at a time
            float g = gate[i];
            float e = exp(-g);
            float sig = 1f / (e + 1f);
            float rest = g >= 0f ? e * sig : 1f - sig;
            float gs = g * sig;
            float dSilu = Math.fma(gs, rest, sig);
            dGate[i] = dAct[i] * up[i] * dSilu;
            dUp[i] = dAct[i] * gs;
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
     * The Chebyshev series Σ_k c[k]·T_k(s) (c[0] already halved) as a power series in s, summed in double: T_0 = 1,
     * T_1 = s, T_(k+1) = 2s·T_k − T_(k−1). f is smooth on [−1, 1] and its coefficients fall fast, so the expansion
     * loses nothing a float keeps (ActivationsTest bounds GELU against the double-precision erfc).
     */
    private static float[] powers(float[] c) {
        int n = c.length;
        double[] previous = new double[n];
        double[] current = new double[n];
        double[] sum = new double[n];
        previous[0] = 1;                  // T_0
        current[1] = 1;                   // T_1
        sum[0] += c[0];
        sum[1] += c[1];
        for (int k = 2; k < n; k++) {
            double[] next = new double[n];
            for (int j = 0; j < n; j++) {
                next[j] = (j > 0 ? 2 * current[j - 1] : 0) - previous[j];
            }
            for (int j = 0; j < n; j++) {
                sum[j] += c[k] * next[j];
            }
            previous = current;
            current = next;
        }
        float[] p = new float[n];
        for (int j = 0; j < n; j++) {
            p[j] = (float) sum[j];
        }
        return p;
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
