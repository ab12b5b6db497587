package ai.vl4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The compute seam's three products (forward, and the two of backward) on both backends, for every weight kind
 * and odd row counts (1, 7, 608, 4097), against scalar references:
 * <ul>
 *   <li>Java: exactly equal to the fixed-order FMA chain (whatever the register tile; CI runs this class a
 *       second time with the other tile);</li>
 *   <li>oneDNN (where the library loads): within the float32 error bound of any summation order,
 *       |got − exact| ≤ (depth + 2)·2⁻²⁴·Σ|aᵢ·bᵢ| against a double-precision sum.</li>
 * </ul>
 */
class ComputeBackendTest {
    private static final int[] ROWS = {1, 7, 608, 4097};
    private static final String[] WEIGHTS = {"F32", "F16", "BF16", "heap"};

    /** W [m, k] of the kind named: a stored tensor of that dtype, or a float32 heap matrix. */
    private static WeightMatrix weight(String kind, Random rnd, int m, int k) {
        float[] v = gaussian(rnd, m * k);
        return kind.equals("heap") ? new FloatMatrix("w", m, k, v) : Tensor.ofFloats("w", v, m, k).convertTo(DType.valueOf(kind));
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }

    /** Wᵀ [k, m] widened: B of out = x·Wᵀ; and W [m, k] widened, B of dx = dy·W. */
    private static float[] widened(WeightMatrix w) {
        return FloatMatrix.copyOf(w).data();
    }

    private static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }

    /** The three products of one case, computed by a backend. */
    private record Products(float[] out, float[] dx, float[] dw) {
    }

    private record Case(int n, int k, int m, WeightMatrix w, float[] x, float[] bias, float[] dy, float[] dw0) {
        static Case random(String kind, int n, int k, int m, long seed) {
            Random rnd = new Random(seed);
            return new Case(n, k, m, weight(kind, rnd, m, k), gaussian(rnd, n * k), gaussian(rnd, m), gaussian(rnd, n * m), gaussian(rnd, m * k));
        }

        Products run(ComputeBackend b) {
            float[] out = new float[n * m];
            float[] dx = new float[n * k];
            float[] dw = dw0.clone();
            b.linear(x, n, w, bias, out);
            b.backwardInput(dy, n, w, dx);
            b.backwardWeight(dy, x, n, m, k, dw);
            return new Products(out, dx, dw);
        }
    }

    /** Shapes with every remainder: k and m off the vector width and the panel, depth across a KC block. */
    private static List<int[]> shapes() {
        List<int[]> shapes = new ArrayList<>();
        for (int n : ROWS) {
            shapes.add(n >= 608 ? new int[] {n, 37, 29} : new int[] {n, 300, 53});
        }
        shapes.add(new int[] {13, 600, 50});
        shapes.add(new int[] {130, 300, 531});     // several panels per group, a partial one last; rows past one block of MC
        return shapes;
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16", "BF16", "heap"})
    void javaEqualsTheFixedOrderReferenceExactly(String kind) {
        for (int[] s : shapes()) {
            int n = s[0], k = s[1], m = s[2];
            Case c = Case.random(kind, n, k, m, 31L * n + k);
            Products got = c.run(JavaBackend.INSTANCE);
            String what = kind + " " + n + "x" + k + "x" + m;
            float[] wm = widened(c.w);                                   // W [m, k]

            float[] out = new float[n * m];
            Gemm.referenceFma(c.x, n, k, wm, m, c.bias, Gemm.Start.BIAS, out);
            assertArrayEquals(out, got.out, what + " linear");

            float[] dx = new float[n * k];
            Gemm.referenceFma(c.dy, n, m, transpose(wm, m, k), k, null, Gemm.Start.BIAS, dx);
            assertArrayEquals(dx, got.dx, what + " backwardInput");

            float[] dw = c.dw0.clone();
            Gemm.referenceFma(transpose(c.dy, n, m), m, n, transpose(c.x, n, k), k, null, Gemm.Start.ACCUMULATE, dw);
            assertArrayEquals(dw, got.dw, what + " backwardWeight");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16", "BF16", "heap"})
    void bothBackendsAreWithinTheSummationBound(String kind) {
        DnnlBackend dnnl = dnnlOrSkip();
        for (int[] s : shapes()) {
            int n = s[0], k = s[1], m = s[2];
            Case c = Case.random(kind, n, k, m, 17L * n + m);
            float[] wm = widened(c.w);
            for (ComputeBackend b : new ComputeBackend[] {JavaBackend.INSTANCE, dnnl}) {
                Products got = c.run(b);
                String what = b.name() + " " + kind + " " + n + "x" + k + "x" + m;
                // out[i, r] = bias[r] + Σ_j x[i, j]·W[r, j]
                assertWithinBound(what + " linear", got.out, n, m, k, (i, r, j) -> (double) c.x[i * k + j] * wm[r * k + j], (i, r) -> c.bias[r]);
                // dx[i, j] = Σ_r dy[i, r]·W[r, j]
                assertWithinBound(what + " backwardInput", got.dx, n, k, m, (i, j, r) -> (double) c.dy[i * m + r] * wm[r * k + j], (i, j) -> 0);
                // dw[r, j] = dw0[r, j] + Σ_i dy[i, r]·x[i, j]
                assertWithinBound(what + " backwardWeight", got.dw, m, k, n, (r, j, i) -> (double) c.dy[i * m + r] * c.x[i * k + j],
                        (r, j) -> c.dw0[r * k + j]);
            }
        }
    }

    /**
     * With bfloat16 inputs, a stored weight's forward product is the product of x and W rounded to bfloat16 (each
     * such product exact in float32) within the float32 summation bound; a trained (heap) weight's forward product
     * and every backward product stay float32. Where oneDNN has no bfloat16 dot product (AVX2 hosts) the setting
     * is refused and the products stay float32.
     */
    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16", "BF16", "heap"})
    void bf16InputsRoundXAndWAndSumInFloat32(String kind) {
        DnnlBackend dnnl = dnnlOrSkip();
        boolean on = dnnl.bf16Inputs(true);
        assertEquals(dnnl.library().hasBf16Dot(), on, dnnl.describe());
        assertEquals(on, dnnl.bf16Inputs());
        boolean rounded = on && !kind.equals("heap");
        for (int[] s : new int[][] {{608, 37, 29}, {130, 300, 531}, {4097, 64, 24}}) {
            int n = s[0], k = s[1], m = s[2];
            Case c = Case.random(kind, n, k, m, 23L * n + k);
            float[] wm = widened(c.w);
            float[] xr = c.x.clone();
            if (rounded) {
                for (int i = 0; i < wm.length; i++) {
                    wm[i] = Widen.bf16ToFloat(Widen.floatToBf16(wm[i]));
                }
                for (int i = 0; i < xr.length; i++) {
                    xr[i] = Widen.bf16ToFloat(Widen.floatToBf16(xr[i]));
                }
            }
            Products got = c.run(dnnl);
            String what = "bf16 " + on + " " + kind + " " + n + "x" + k + "x" + m;
            assertWithinBound(what + " linear", got.out, n, m, k, (i, r, j) -> (double) xr[i * k + j] * wm[r * k + j], (i, r) -> c.bias[r]);
            float[] w32 = widened(c.w);
            assertWithinBound(what + " backwardInput", got.dx, n, k, m, (i, j, r) -> (double) c.dy[i * m + r] * w32[r * k + j], (i, j) -> 0);
            assertWithinBound(what + " backwardWeight", got.dw, m, k, n, (r, j, i) -> (double) c.dy[i * m + r] * c.x[i * k + j],
                    (r, j) -> c.dw0[r * k + j]);
            if (rounded) {
                // and it is not the float32 product: the rounding shows (these inputs are not all bfloat16 values)
                float[] exact = new float[n * m];
                JavaBackend.INSTANCE.linear(c.x, n, c.w, c.bias, exact);
                double worst = 0;
                for (int i = 0; i < exact.length; i++) {
                    worst = Math.max(worst, Math.abs(exact[i] - got.out[i]));
                }
                assertTrue(worst > 1e-4, what + ": no bfloat16 rounding seen");
            }
        }
        dnnl.bf16Inputs(false);
        assertFalse(dnnl.bf16Inputs());
    }

    /**
     * Where the re-laid bfloat16 copies would pass their budget, a weight's products take the plain layout with the
     * same results, and the weight is marked: a product of another row count builds only its plain primitive (no
     * blocked one to look up, nothing re-laid). Within the budget each row count builds the blocked one only.
     */
    @Test
    void bf16WeightsOverTheBlockedBudgetTakeThePlainLayoutOnce() {
        DnnlBackend shared = dnnlOrSkip();
        assumeTrue(shared.library().hasBf16Dot(), "no bfloat16 dot product in oneDNN on this CPU");
        for (long budget : new long[] {0, 1L << 30}) {
            DnnlBackend dnnl = new DnnlBackend(shared.library(), 0, budget);
            assertTrue(dnnl.bf16Inputs(true));
            Case big = Case.random("BF16", 608, 96, 40, 5);
            float[] wm = widened(big.w);
            int before = dnnl.primitiveCount();
            for (int n : new int[] {608, 130}) {
                Case c = new Case(n, big.k, big.m, big.w, java.util.Arrays.copyOf(big.x, n * big.k), big.bias, big.dy, big.dw0);
                float[] out = new float[n * c.m];
                dnnl.linear(c.x, n, c.w, c.bias, out);
                float[] xr = c.x.clone();
                for (int i = 0; i < xr.length; i++) {
                    xr[i] = Widen.bf16ToFloat(Widen.floatToBf16(xr[i]));
                }
                int k = c.k;
                assertWithinBound("budget " + budget + " n " + n, out, n, c.m, k, (i, r, j) -> (double) xr[i * k + j] * wm[r * k + j], (i, r) -> c.bias[r]);
                int built = dnnl.primitiveCount() - before;
                before = dnnl.primitiveCount();
                // over the budget: the first product probes the blocked layout (2 primitives), later ones build the plain one only
                assertEquals(budget == 0 ? (n == 608 ? 2 : 1) : 1, built, "primitives built for n=" + n + ", budget " + budget);
            }
            assertEquals(budget == 0, dnnl.packedBytes() == 0, "re-laid bytes with budget " + budget + ": " + dnnl.packedBytes());
        }
    }

    /** --compute bf16 without oneDNN (or without a bfloat16 dot) stays float32 and says so in one line. */
    @Test
    void bf16ComputeFallsBackWithOneLine() {
        ComputeBackend before = Backends.active();
        boolean wasBf16 = Backends.bf16Inputs();
        try {
            List<String> lines = new ArrayList<>();
            Backends.select(Backends.Choice.JAVA, lines::add);
            assertEquals(Backends.Compute.F32, Backends.selectCompute(Backends.Compute.BF16, lines::add));
            assertFalse(Backends.bf16Inputs());
            assertEquals(List.of("vl4j: --compute bf16 needs the oneDNN backend (in effect: java); computing in float32"), lines);
            assertEquals(Backends.Compute.BF16, Backends.Compute.parse("BF16"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.Compute.parse("fp8"));
            assertEquals("--compute must be f32 or bf16, got fp8", e.getMessage());
        } finally {
            restore(before);
            Backends.selectCompute(wasBf16 ? Backends.Compute.BF16 : Backends.Compute.F32, line -> { });
        }
    }

    /** The products of the quantized kinds, which oneDNN hands to the Java kernels, are the Java ones exactly. */
    @Test
    void dnnlLeavesQuantizedWeightsToJava() {
        DnnlBackend dnnl = dnnlOrSkip();
        Random rnd = new Random(5);
        for (QuantType type : QuantType.values()) {
            WeightMatrix q = QuantizedTensor.quantize(Tensor.ofFloats("w", gaussian(rnd, 40 * 64), 40, 64), type, java.lang.foreign.Arena.ofAuto());
            int n = DnnlBackend.MIN_ROWS + 9;      // enough rows for oneDNN to take a float weight
            Case c = new Case(n, 64, 40, q, gaussian(rnd, n * 64), null, gaussian(rnd, n * 40), gaussian(rnd, 40 * 64));
            Products java = c.run(JavaBackend.INSTANCE);
            float[] out = new float[n * 40];
            float[] dx = new float[n * 64];
            dnnl.linear(c.x, n, q, null, out);
            dnnl.backwardInput(c.dy, n, q, dx);
            assertArrayEquals(java.out, out, type + " linear");
            assertArrayEquals(java.dx, dx, type + " backwardInput");
        }
    }

    @Test
    void aMissingLibraryFallsBackWithOneLine(@TempDir Path dir) {
        ComputeBackend before = Backends.active();
        try {
            List<String> lines = new ArrayList<>();
            ComputeBackend b = Backends.select(Backends.Choice.DNNL, dir.resolve("libdnnl.so.2").toString(), lines::add);
            assertSame(JavaBackend.INSTANCE, b);
            assertEquals(1, lines.size(), lines.toString());
            assertTrue(lines.get(0).contains("not found") && lines.get(0).contains("Java kernels"), lines.get(0));
            assertFalse(lines.get(0).contains("\n"));
            // auto stays quiet about a library that is simply absent
            lines.clear();
            assertSame(JavaBackend.INSTANCE, Backends.select(Backends.Choice.AUTO, dir.resolve("libdnnl.so.2").toString(), lines::add));
            assertEquals(List.of(), lines);
            assertTrue(Backends.report().contains("not found"), Backends.report());
        } finally {
            restore(before);
        }
    }

    @Test
    void aBrokenLibraryFallsBackWithOneLine(@TempDir Path dir) throws IOException {
        ComputeBackend before = Backends.active();
        try {
            Path garbage = Files.writeString(dir.resolve("libdnnl.so.2"), "not a shared library");
            List<String> lines = new ArrayList<>();
            assertSame(JavaBackend.INSTANCE, Backends.select(Backends.Choice.AUTO, garbage.toString(), lines::add));
            assertEquals(1, lines.size(), lines.toString());
            assertEquals("vl4j: cannot load " + garbage + ": not a shared library; using the Java kernels", lines.get(0));

            // a real library that is not oneDNN
            Path libc = Path.of("/lib/x86_64-linux-gnu/libc.so.6");
            assumeTrue(Files.isRegularFile(libc), "no glibc at the Debian path");
            lines.clear();
            assertSame(JavaBackend.INSTANCE, Backends.select(Backends.Choice.DNNL, libc.toString(), lines::add));
            assertEquals(1, lines.size(), lines.toString());
            assertTrue(lines.get(0).contains("has no function dnnl_version"), lines.get(0));
        } finally {
            restore(before);
        }
    }

    @Test
    void backendNamesParse() {
        assertEquals(Backends.Choice.DNNL, Backends.Choice.parse("dnnl"));
        assertEquals(Backends.Choice.JAVA, Backends.Choice.parse("Java"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.Choice.parse("cuda"));
        assertEquals("--backend must be auto, java or dnnl, got cuda", e.getMessage());
    }

    /**
     * Under {@code -Dvl4j.backend=dnnl} (CI's second run of the fixture tests) the fixtures must really run on
     * oneDNN: a silent fallback would let them pass on the Java kernels.
     */
    @Test
    void theRequestedBackendIsTheOneInEffect() {
        String requested = System.getProperty("vl4j.backend");
        assumeTrue(requested != null && !requested.equalsIgnoreCase("auto"), "no backend requested");
        assertEquals(requested.toLowerCase(java.util.Locale.ROOT), Backends.active().name(), Backends.report());
    }

    private static void restore(ComputeBackend before) {
        Backends.select(before instanceof DnnlBackend ? Backends.Choice.DNNL : Backends.Choice.JAVA, Backends.libraryPath(), line -> { });
    }

    private static DnnlBackend dnnlOrSkip() {
        try {
            return Backends.open(Backends.libraryPath(), 0);
        } catch (Dnnl.Unavailable e) {
            assumeTrue(false, "oneDNN unavailable: " + e.getMessage());
            return null;
        }
    }

    @FunctionalInterface
    private interface Term {
        double at(int row, int col, int d);
    }

    @FunctionalInterface
    private interface Start {
        double at(int row, int col);
    }

    private static void assertWithinBound(String what, float[] got, int rows, int cols, int depth, Term term, Start start) {
        double u = 0x1p-24;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double exact = start.at(r, c);
                double magnitude = Math.abs(exact);
                for (int d = 0; d < depth; d++) {
                    double t = term.at(r, c, d);
                    exact += t;
                    magnitude += Math.abs(t);
                }
                double bound = (depth + 2) * u * magnitude;
                double err = Math.abs(got[r * cols + c] - exact);
                if (!(err <= bound)) {
                    throw new AssertionError(what + " at [" + r + ", " + c + "]: " + got[r * cols + c] + ", exact " + exact + ", error " + err + " > bound " + bound);
                }
            }
        }
    }
}
