package ai.vl4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.ModelFormatException;
import ai.vl4j.config.ConfigNode;
import ai.vl4j.nn.Activation;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;

/** The tanh and quick GELU kernels against their double-precision definitions, vector body and scalar tail alike. */
class ActivationsTest {

    /** ½·x·(1 + tanh(u)) written as x·σ(2u), which keeps the tiny values of the negative tail in double. */
    static double geluTanh(double x) {
        double u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
        return x / (1 + Math.exp(-2 * u));
    }

    static double quickGelu(double x) {
        return x / (1 + Math.exp(-1.702 * x));
    }

    static double erfGelu(double x) {
        return 0.5 * x * (1 + Erf.reference(x / Math.sqrt(2)));
    }

    /**
     * Every x of [-12, 12) in steps of 1/1024 (an odd count, so the scalar tail runs too), through the activation.
     * Relative tolerance 1e-6 + 4·2⁻²³·|e|, e the exponent of the sigmoid: it is computed in float32 (as in PyTorch)
     * in up to four rounded steps, and the exponential turns their error, relative to e, into a relative error of
     * the result |e| times as large.
     */
    private static void assertMatches(Activation act, DoubleUnaryOperator reference, DoubleUnaryOperator exponent) {
        int n = 24 * 1024 + 3;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = -12f + i / 1024f;
        }
        float[] y = x.clone();
        act.apply(y, n);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double ref = reference.applyAsDouble(x[i]);
            double err = Math.abs(y[i] - ref) / (Math.abs(ref) + 1e-30);
            if (Math.abs(ref) > 1e-30) {
                worst = Math.max(worst, err);
            }
            double tolerance = 1e-6 + 4 * Math.ulp(1f) * Math.abs(exponent.applyAsDouble(x[i]));
            assertTrue(Math.abs(y[i] - ref) <= tolerance * Math.abs(ref) + 1e-37, act + "(" + x[i] + ") = " + y[i] + ", expected " + ref);
        }
        System.out.printf("OK %-10s max relative error %.2e%n", act, worst);
    }

    /**
     * Exact (erf) GELU against its double-precision definition written with erfc, which keeps the tiny values of
     * the negative tail: ½·x·erfc(|x|/√2) for x < 0, x − ½·x·erfc(x/√2) above. The kernel computes erfc as
     * t·e^(f − z²), z² = x²/2 being the exponent whose float rounding the tolerance allows for.
     */
    @Test
    void erfGeluMatchesItsDefinition() {
        assertMatches(Activation.GELU, x -> {
            double z = Math.abs(x) / Math.sqrt(2);
            double erfc = Math.exp(FastMath.logScaledErfc(z) - z * z);
            return x < 0 ? 0.5 * x * erfc : x - 0.5 * x * erfc;
        }, x -> x * x / 2);
        assertEquals(erfGelu(1.5), gelu(1.5f), 1e-7);
        assertEquals(erfGelu(-0.75), gelu(-0.75f), 1e-7);
    }

    /**
     * GELU of biased channel rows then weighted sums over the channels, against the same GELU applied apart and the
     * sums in double: column counts off the vector width and the kernel's block (tails), one channel and several,
     * a single sum and several, outputs at an offset and stride, x left untouched.
     */
    @Test
    void geluThenCombineIsGeluThenTheWeightedSums() {
        java.util.Random rnd = new java.util.Random(5);
        for (int[] shape : new int[][] {{32, 200, 3}, {1, 9, 1}, {7, 64, 2}, {5, 1, 4}, {32, 4096, 3}}) {
            int k = shape[0], n = shape[1], m = shape[2];
            int xOff = 3, biasOff = 2, outOff = 5, outStride = n + 7;
            float[] x = new float[xOff + k * n];
            float[] bias = new float[biasOff + k];
            float[] w = new float[m * k];
            for (float[] a : new float[][] {x, bias, w}) {
                for (int i = 0; i < a.length; i++) {
                    a[i] = (float) (2 * rnd.nextGaussian());
                }
            }
            float[] before = x.clone();
            float[] out = new float[outOff + (m - 1) * outStride + n];
            Activations.geluThenCombine(x, xOff, k, n, bias, biasOff, w, m, out, outOff, outStride);
            org.junit.jupiter.api.Assertions.assertArrayEquals(before, x, "x is left as it was");
            for (int j = 0; j < m; j++) {
                for (int c = 0; c < n; c++) {
                    double want = 0;
                    double scale = 0;
                    for (int i = 0; i < k; i++) {
                        double g = gelu(x[xOff + i * n + c] + bias[biasOff + i]);
                        want += w[j * k + i] * g;
                        scale += Math.abs(w[j * k + i] * g);
                    }
                    assertEquals(want, out[outOff + j * outStride + c], 1e-6 * (scale + 1), k + "x" + n + "x" + m + " out[" + j + ", " + c + "]");
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Activations.geluThenCombine(new float[10], 0, 2, 6, new float[2],
                0, new float[2], 1, new float[6], 0, 6));
    }

    private static float gelu(float x) {
        float[] v = new float[64];
        java.util.Arrays.fill(v, x);
        Activation.GELU.apply(v, v.length);
        return v[0];
    }

    @Test
    void geluTanhMatchesItsDefinition() {
        assertMatches(Activation.GELU_TANH, ActivationsTest::geluTanh, x -> 2 * Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x));
        // the approximation is not erf GELU: at x = -3 they differ by 2e-4 relative (what tells them apart)
        assertTrue(Math.abs(geluTanh(-3) - erfGelu(-3)) > 1e-2 * Math.abs(erfGelu(-3)));
    }

    /**
     * SwiGLU's backward against its double-precision definition: gates over [-20, 20) in steps of 1/512 (an odd
     * count: the scalar tail runs too), random u and dAct. dUp within 1e-6 relative; dGate = dAct·u·(σ + silu·(1 − σ))
     * within 1e-6 of dAct·u·(σ + |silu|·(1 − σ)), its terms' size (the sum cancels to 0 near g = −1.28).
     */
    @Test
    void siluMulBackwardMatchesItsDefinition() {
        int n = 40 * 512 + 5;
        java.util.Random rnd = new java.util.Random(7);
        float[] gate = new float[n], up = new float[n], dAct = new float[n], dGate = new float[n], dUp = new float[n];
        for (int i = 0; i < n; i++) {
            gate[i] = -20f + i / 512f;
            up[i] = (float) rnd.nextGaussian();
            dAct[i] = (float) rnd.nextGaussian();
        }
        Activations.siluMulBackward(gate, up, dAct, dGate, dUp, n);
        for (int i = 0; i < n; i++) {
            double g = gate[i];
            double sig = 1 / (1 + Math.exp(-g));
            double silu = g * sig;
            double du = (double) dAct[i] * silu;
            double dg = (double) dAct[i] * up[i] * (sig + silu * (1 - sig));
            double dgSize = Math.abs((double) dAct[i] * up[i]) * (sig + Math.abs(silu) * (1 - sig));
            assertTrue(Math.abs(dUp[i] - du) <= 1e-6 * Math.abs(du) + 1e-37, "dUp at g=" + g + ": " + dUp[i] + ", expected " + du);
            assertTrue(Math.abs(dGate[i] - dg) <= 1e-6 * dgSize + 1e-37, "dGate at g=" + g + ": " + dGate[i] + ", expected " + dg);
        }
    }

    @Test
    void quickGeluMatchesItsDefinition() {
        assertMatches(Activation.QUICK_GELU, ActivationsTest::quickGelu, x -> 1.702 * x);
    }

    @Test
    void configNamesMapToKernels() throws Exception {
        ConfigNode cfg = ConfigNode.of("config.json", new ObjectMapper().readTree(
                "{\"a\": \"quick_gelu\", \"b\": \"gelu_pytorch_tanh\", \"c\": \"gelu\", \"d\": \"gelu_new\", \"e\": \"swish\"}"));
        assertSame(Activation.QUICK_GELU, Activation.fromConfig(cfg, "a", Activation.GELU));
        assertSame(Activation.GELU_TANH, Activation.fromConfig(cfg, "b", Activation.GELU));
        assertSame(Activation.GELU, Activation.fromConfig(cfg, "c", Activation.QUICK_GELU));
        assertSame(Activation.GELU_TANH, Activation.fromConfig(cfg, "d", Activation.GELU));
        assertSame(Activation.QUICK_GELU, Activation.fromConfig(cfg, "missing", Activation.QUICK_GELU));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Activation.fromConfig(cfg, "e", Activation.GELU));
        assertEquals(true, e.getMessage().startsWith("config.json: e is swish; supported: "), e.getMessage());
    }
}
