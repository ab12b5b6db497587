package ai.vl4j.tensor;

/**
 * The error function in double precision (Java has no Math.erf). The exact GELU of this model,
 * 0.5·x·(1 + erf(x/√2)), needs it at every MLP activation.
 *
 * <p>{@link #reference} is slow and exact to about 1e-16: the Maclaurin series for |x| < 2 and the
 * Laplace continued fraction of erfc beyond. {@link #erf} is the fast form used by kernels: on [0, 6)
 * it evaluates a Chebyshev expansion per interval of width 1/4, whose coefficients are computed once from
 * {@link #reference} when the class loads; beyond 6, erf is ±1 to double precision (erfc(6) ≈ 2e-17).
 */
public final class Erf {
    private static final double TWO_OVER_SQRT_PI = 2.0 / Math.sqrt(Math.PI);
    private static final double LIMIT = 6.0;
    private static final double WIDTH = 0.25;
    private static final int INTERVALS = (int) (LIMIT / WIDTH);
    private static final int TERMS = 16;
    /** COEFFS[interval * TERMS + k]: Chebyshev coefficient k of erf on that interval (c0 already halved). */
    private static final double[] COEFFS = fitChebyshev();

    private Erf() {
    }

    /** erf(x), absolute error below 1e-14 (a few ulps of double). */
    public static double erf(double x) {
        double ax = Math.abs(x);
        if (!(ax < LIMIT)) {
            return Double.isNaN(x) ? x : Math.copySign(1.0, x);
        }
        int interval = (int) (ax / WIDTH);
        double lo = interval * WIDTH;
        double t = (ax - lo) * (2.0 / WIDTH) - 1.0; // map [lo, lo+WIDTH) to [-1, 1)
        int base = interval * TERMS;
        // Clenshaw recurrence for Σ c_k T_k(t)
        double b1 = 0, b2 = 0;
        for (int k = TERMS - 1; k >= 1; k--) {
            double b0 = 2 * t * b1 - b2 + COEFFS[base + k];
            b2 = b1;
            b1 = b0;
        }
        double value = t * b1 - b2 + COEFFS[base];
        return Math.copySign(value, x);
    }

    /** Exact GELU: 0.5·x·(1 + erf(x/√2)). */
    public static float gelu(float x) {
        return (float) (0.5 * x * (1.0 + erf(x * 0.7071067811865476)));
    }

    /** Slow, accurate erf, used to build the fast tables and to test them. */
    public static double reference(double x) {
        double ax = Math.abs(x);
        if (ax < 2.0) {
            // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
            double x2 = x * x;
            double term = x; // (-1)^n x^(2n+1) / n!
            double sum = x;
            for (int n = 1; n < 200; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-18 * Math.abs(sum)) {
                    break;
                }
            }
            return TWO_OVER_SQRT_PI * sum;
        }
        if (ax > 27) {
            return Math.copySign(1.0, x);
        }
        // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated from the tail.
        double t = ax;
        for (int n = 400; n >= 1; n--) {
            t = ax + (n * 0.5) / t;
        }
        double erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / t;
        return Math.copySign(1.0 - erfc, x);
    }

    private static double[] fitChebyshev() {
        double[] coeffs = new double[INTERVALS * TERMS];
        double[] samples = new double[TERMS];
        for (int interval = 0; interval < INTERVALS; interval++) {
            double lo = interval * WIDTH;
            for (int j = 0; j < TERMS; j++) {
                double node = Math.cos(Math.PI * (j + 0.5) / TERMS);
                samples[j] = reference(lo + (node + 1.0) * 0.5 * WIDTH);
            }
            for (int k = 0; k < TERMS; k++) {
                double sum = 0;
                for (int j = 0; j < TERMS; j++) {
                    sum += samples[j] * Math.cos(Math.PI * k * (j + 0.5) / TERMS);
                }
                coeffs[interval * TERMS + k] = (k == 0 ? 1.0 : 2.0) / TERMS * sum;
            }
        }
        return coeffs;
    }
}
