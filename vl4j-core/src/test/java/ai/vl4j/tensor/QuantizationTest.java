package ai.vl4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Q8_0 / Q4_0: GGML's rounding, bounded reconstruction error, and the fast kernels against the reference. */
class QuantizationTest {

    static Tensor randomMatrix(Random rnd, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextGaussian() * (1 + (i % 7)));   // blocks with different ranges
        }
        return Tensor.ofFloats("w", v, rows, cols).convertTo(DType.BF16);
    }

    @ParameterizedTest
    @EnumSource(QuantType.class)
    void reconstructionErrorIsBoundedByTheStep(QuantType type) {
        Random rnd = new Random(1);
        int rows = 7, cols = 100;                       // 100 = 3 full blocks + a short one
        Tensor w = randomMatrix(rnd, rows, cols);
        QuantizedTensor q = QuantizedTensor.quantize(w, type, Arena.ofAuto());
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            q.rowToFloat(r, 0, cols, row, 0);
            for (int j = 0; j < cols; j++) {
                float d = Math.abs(q.scale(r, j / 32));
                float orig = w.getFloat((long) r * cols + j);
                // half a step (Q4_0: a whole step, its range −8d..7d clamps the side opposite the extreme),
                // plus the F16 rounding of d (relative 2^-11)
                float bound = (type == QuantType.Q8_0 ? d / 2 : d) + Math.abs(orig) * 1e-3f + 1e-6f;
                assertTrue(Math.abs(row[j] - orig) <= bound, type + " row " + r + " col " + j + ": " + row[j] + " vs " + orig);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(QuantType.class)
    void ggmlRoundingOfOneBlock(QuantType type) {
        float[] v = new float[32];
        for (int j = 0; j < 32; j++) {
            v[j] = j - 12.5f;                              // max |v| = 18.5 at j = 31
        }
        QuantizedTensor q = QuantizedTensor.quantize(Tensor.ofFloats("b", v, 1, 32), type, Arena.ofAuto());
        if (type == QuantType.Q8_0) {
            float d = 18.5f / 127;
            assertEquals(Float.float16ToFloat(Float.floatToFloat16(d)), q.scale(0, 0));
            assertEquals(127, q.value(0, 0, 31));
            assertEquals(-86, q.value(0, 0, 0));          // roundf(−12.5/d) = roundf(−85.81) = −86
            assertEquals(-17, q.value(0, 0, 10));         // roundf(−2.5/d) = roundf(−17.16) = −17
            assertEquals(-3, q.value(0, 0, 12));          // roundf(−0.5/d) = roundf(−3.43) = −3
        } else {
            float d = 18.5f / -8;
            assertEquals(Float.float16ToFloat(Float.floatToFloat16(d)), q.scale(0, 0));
            assertEquals(-8, q.value(0, 0, 31));          // the extreme maps to q = 0, i.e. −8
            assertEquals(5, q.value(0, 0, 0));            // (int)(−12.5/d + 8.5) = (int)13.9 = 13, minus 8
            assertEquals(0, q.value(0, 0, 12));           // (int)(−0.5/d + 8.5) = (int)8.72 = 8, minus 8
            assertEquals(-3, q.value(0, 0, 20));          // (int)(7.5/d + 8.5) = (int)5.26 = 5, minus 8
        }
    }

    @ParameterizedTest
    @EnumSource(QuantType.class)
    void fastKernelsMatchTheReferenceOnTheDequantizedValues(QuantType type) {
        Random rnd = new Random(2);
        for (int[] shape : new int[][] {{1, 64, 33}, {1, 100, 9}, {3, 256, 40}, {4, 96, 17}, {6, 96, 17}, {8, 160, 5}, {2, 2048, 16}, {9, 320, 50}, {1, 32, 1}}) {
            int n = shape[0], k = shape[1], m = shape[2];
            QuantizedTensor q = QuantizedTensor.quantize(randomMatrix(rnd, m, k), type, Arena.ofAuto());
            float[] x = new float[n * k];
            float[] bias = new float[m];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            for (int i = 0; i < m; i++) {
                bias[i] = (float) rnd.nextGaussian();
            }
            float[] out = new float[n * m];
            float[] ref = new float[n * m];
            MatMul.linear(x, n, q, bias, out);
            MatMul.reference(x, n, q, bias, ref);
            for (int i = 0; i < out.length; i++) {
                assertEquals(ref[i], out[i], 1e-3 * Math.sqrt(k), type + " " + n + "x" + k + "x" + m + " at " + i);
            }
        }
    }
}
