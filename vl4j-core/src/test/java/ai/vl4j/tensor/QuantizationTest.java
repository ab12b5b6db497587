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

    /** Dequantizing a range (whole blocks with vectors, the rest one value at a time) gives scale · value exactly. */
    @ParameterizedTest
    @EnumSource(QuantType.class)
    void rowRangesDequantizeToScaleTimesValue(QuantType type) {
        Random rnd = new Random(2);
        int rows = 3, cols = 160;
        QuantizedTensor q = QuantizedTensor.quantize(randomMatrix(rnd, rows, cols), type, Arena.ofAuto());
        for (int[] range : new int[][] {{0, 160}, {32, 96}, {5, 100}, {64, 32}}) {
            float[] got = new float[range[1]];
            for (int r = 0; r < rows; r++) {
                q.rowToFloat(r, range[0], range[1], got, 0);
                for (int j = 0; j < range[1]; j++) {
                    int c = range[0] + j;
                    assertEquals(q.scale(r, c / 32) * q.value(r, c / 32, c % 32), got[j], type + " row " + r + " col " + c);
                }
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
            // decode (n <= 8) takes int8 activations, as GGML: equal to that computation, and within the
            // activations' rounding (half a step dx per value) of the float product
            float[] exact = new float[n * m];
            MatMul.reference(x, n, q, bias, exact);
            withInt8Activations(x, n, k, q, bias, ref);
            for (int i = 0; i < out.length; i++) {
                String where = n + "x" + k + "x" + m + " at " + i;
                double bound = activationRoundingBound(x, i / m, k, q, i % m);
                if (n <= 8) {
                    assertEquals(ref[i], out[i], 1e-4 * Math.sqrt(k) * (1 + Math.abs(ref[i])), type + " int8 path " + where);
                    assertEquals(exact[i], out[i], bound + 1e-3 * Math.sqrt(k), type + " vs float " + where);
                } else {
                    assertEquals(exact[i], out[i], 1e-3 * Math.sqrt(k), type + " GEMM " + where);
                }
            }
        }
    }

    /** The int8-activation product in plain loops: x per block to int8 (dx = max|x|/127), integer dot, d_w·d_x. */
    private static void withInt8Activations(float[] x, int n, int k, QuantizedTensor w, float[] bias, float[] out) {
        int m = w.rows();
        for (int i = 0; i < n; i++) {
            for (int r = 0; r < m; r++) {
                double s = bias[r];
                int[] q = new int[32];
                for (int b = 0; b * 32 < k; b++) {
                    int len = Math.min(32, k - b * 32);
                    float dx = int8Block(x, i * k + b * 32, len, q);
                    long dot = 0;
                    for (int j = 0; j < len; j++) {
                        dot += (long) w.value(r, b, j) * q[j];
                    }
                    s += (double) dot * w.scale(r, b) * dx;
                }
                out[i * m + r] = (float) s;
            }
        }
    }

    /** GGML's Q8_0 rounding of one block of inputs: q[j] = x/dx rounded half away from zero, dx = max|x|/127 (returned). */
    private static float int8Block(float[] x, int from, int len, int[] q) {
        float amax = 0f;
        for (int j = 0; j < len; j++) {
            amax = Math.max(amax, Math.abs(x[from + j]));
        }
        float dx = amax / 127f;
        for (int j = 0; j < len; j++) {
            float v = dx == 0 ? 0 : x[from + j] * (1f / dx);
            q[j] = v >= 0 ? Math.round(v) : -Math.round(-v);
        }
        return dx;
    }

    /** Σ over a row of |w|·dx/2: how far rounding the activations to int8 can move one output. */
    private static double activationRoundingBound(float[] x, int i, int k, QuantizedTensor w, int r) {
        double total = 0;
        for (int b = 0; b * 32 < k; b++) {
            float amax = 0f;
            double wsum = 0;
            for (int j = 0; j < Math.min(32, k - b * 32); j++) {
                amax = Math.max(amax, Math.abs(x[i * k + b * 32 + j]));
                wsum += Math.abs(w.value(r, b, j) * w.scale(r, b));
            }
            total += wsum * amax / 127f / 2;
        }
        return total;
    }

    /** The int8 inputs of the Q4_0 kernel: per block dx = max|x|/127, values rounded half away from zero, exactly. */
    @org.junit.jupiter.api.Test
    void q4InputsAreRoundedHalfAwayFromZero() {
        int k = 32 * 5 + 7;                                // four whole blocks (vector path), one, a partial one
        float[] x = new float[2 * k];
        Random rnd = new Random(6);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian() * 3;
        }
        float[] ties = {127f, 0.49999997f, 0.5f, -0.5f, -0.49999997f, 1.4999999f, 1.5f, 2.5f, -2.5f, 126.5f, -126.49999f, 0f, -0f};
        System.arraycopy(ties, 0, x, 32, ties.length);     // block 1: amax 127, so the values are used as they are
        QuantGemv.Q8Activations a = QuantGemv.prepare(x, 2, k, QuantType.Q4_0);
        int words = 2 * jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
        int chunkBlocks = words / 8;
        for (int i = 0; i < 2; i++) {
            for (int b = 0; b * 32 < k; b++) {
                int[] q = new int[32];
                float dx = int8Block(x, i * k + b * 32, Math.min(32, k - b * 32), q);
                int chunk = i * a.valuesPerRow + (b / chunkBlocks) * chunkBlocks * 32 + 8 * (b % chunkBlocks);
                for (int j = 0; j < 32; j++) {
                    assertEquals(q[j], a.values[chunk + (j / 8) * words + j % 8], "row " + i + " block " + b + " value " + j);
                }
                int sum = 0;
                for (int j = 0; j < 32; j++) {
                    sum += q[j];
                }
                assertEquals(dx, a.blockScales[i * a.blocksPerRow + b]);
                assertEquals(-8 * sum * dx, a.corrections[i * a.blocksPerRow + b]);   // the nibbles' −8, per block
                for (int lane = 0; lane < 4; lane++) {
                    assertEquals(dx, a.scales[i * a.lanesPerRow + 4 * b + lane]);
                }
            }
        }
        int at = (1 / chunkBlocks) * chunkBlocks * 32 + 8 * (1 % chunkBlocks);    // block 1 of row 0: the ties
        assertEquals(0, a.values[at + 1]);                 // 0.49999997 → 0 (a float sum with 0.5 would give 1)
        assertEquals(1, a.values[at + 2]);
        assertEquals(-1, a.values[at + 3]);
        assertEquals(2, a.values[at + 6]);                 // 1.5 → 2; 2.5 → 3; −2.5 → −3
        assertEquals(3, a.values[at + 7]);
        assertEquals(-3, a.values[at + words]);
    }

    @org.junit.jupiter.api.Test
    void q4NibbleOrderAndGgmlFilesReordered() {
        float[] v = new float[2 * 40];
        Random rnd = new Random(3);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        QuantizedTensor q = QuantizedTensor.quantize(Tensor.ofFloats("w", v, 2, 40), QuantType.Q4_0, Arena.ofAuto());
        java.lang.foreign.MemorySegment ggml = Arena.ofAuto().allocate(q.quants().byteSize());
        for (int r = 0; r < 2; r++) {
            for (int b = 0; b < 2; b++) {
                long base = r * QuantType.Q4_0.rowBytes(40) + b * 16L;
                for (int w = 0; w < 8; w++) {        // vl4j's order, as documented in QuantType
                    int lo = q.quants().get(java.lang.foreign.ValueLayout.JAVA_BYTE, base + 2 * w) & 0xFF;
                    int hi = q.quants().get(java.lang.foreign.ValueLayout.JAVA_BYTE, base + 2 * w + 1) & 0xFF;
                    assertEquals(q.value(r, b, w) + 8, lo & 0xF);
                    assertEquals(q.value(r, b, w + 8) + 8, lo >>> 4);
                    assertEquals(q.value(r, b, w + 16) + 8, hi & 0xF);
                    assertEquals(q.value(r, b, w + 24) + 8, hi >>> 4);
                }
                for (int j = 0; j < 16; j++) {       // GGML's: byte j = q[j] | q[j+16] << 4
                    ggml.set(java.lang.foreign.ValueLayout.JAVA_BYTE, base + j,
                            (byte) ((q.value(r, b, j) + 8) | (q.value(r, b, j + 16) + 8) << 4));
                }
            }
        }
        QuantizedTensor reordered = QuantizedTensor.fromGgmlQ4("w", 2, 40, ggml, q.scales(), Arena.ofAuto());
        assertEquals(-1, q.quants().mismatch(reordered.quants()));
    }
}
