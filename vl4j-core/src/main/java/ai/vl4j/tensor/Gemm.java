package ai.vl4j.tensor;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Register- and cache-blocked matrix product for many rows (prefill, vision towers, convolutions, and the
 * backward products of training): out[n, cols] (+)= a[n, depth] · B[depth, cols], with a float32 row-major and
 * B handed over in panels by a {@link PanelSource} (a stored weight, transposed or not, or a float32 matrix).
 *
 * <pre>
 *   for each group of panels of NR = NV vectors of output columns, in parallel:
 *     for each block of KC along depth:
 *       pack:   P[d][j] = B[d0 + d, c0 + j]  for each panel of the group (widened to float32 once)
 *       for each block of MC rows of a (in L2):
 *         for each panel of the group:
 *           for each MR = 6 rows of the block:
 *             micro-kernel: MR × NV vector accumulators += broadcast(a[i, d0 + d]) · P[d]
 * </pre>
 *
 * <p>The register tile fits the host: MR × NV accumulators, NV panel vectors and one broadcast must stay in
 * the vector registers, or C2 spills them to the stack inside the hottest loop. With 32 registers (AVX-512,
 * AArch64) the tile is 6 × 3 (18 + 3 + 1 = 22); with 16 (AVX2, SSE) 6 × 2 (12 + 2 + 1 = 15). Every
 * accumulator is its own local, never an array element (C2 would box those). `-Dvl4j.gemm.tile=6x2|6x3`
 * overrides the choice (for measurement).
 *
 * <p>Every output element is one chain of fused multiply-adds over depth in index order, started from its
 * initial value (bias, zero, or what out holds): the tile, the panel width and the thread count never change
 * a result, and it equals {@link #referenceFma}'s exactly.
 */
final class Gemm {
    static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    static final int LANES = FS.length();
    static final int MR = 6;
    /** Vectors of output columns per tile: 3 where the host has 32 vector registers, else 2. */
    static final int NV = tileVectors(System.getProperty("vl4j.gemm.tile"), vectorRegisters());
    static final int NR = NV * LANES;
    static final int KC = 256;
    /** Rows of a per block: MC·KC floats (120 KB) stay in L2 while every panel of a group passes over them. */
    static final int MC = 120;
    /** Panels packed together per block of depth: at most 192 KB of packed weights. */
    static final int GROUP = Math.max(1, 192 * 1024 / (4 * KC * NR));
    private static final ThreadLocal<float[]> PANEL = ThreadLocal.withInitial(() -> new float[GROUP * KC * NR]);
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);
    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[KC]);   // one weight row widened

    private Gemm() {
    }

    /**
     * Vector registers of this host as C2 uses them: 32 on AArch64 (NEON, SVE) and where vectors are 512 bits
     * (AVX-512), 16 on x86 below that (AVX2, SSE). An AVX-512 host run with -XX:MaxVectorSize=32 counts 16
     * (it has 32, so the smaller tile is merely conservative there).
     */
    static int vectorRegisters() {
        String arch = System.getProperty("os.arch", "");
        return arch.equals("aarch64") || FS.vectorBitSize() >= 512 ? 32 : 16;
    }

    /** NV for a tile override ("6x2", "6x3") or, without one, for the register count. */
    static int tileVectors(String override, int registers) {
        if (override != null && !override.isBlank()) {
            return switch (override.trim()) {
                case "6x2" -> 2;
                case "6x3" -> 3;
                default -> throw new IllegalArgumentException("vl4j.gemm.tile must be 6x2 or 6x3, got " + override);
            };
        }
        return MR * 3 + 3 + 1 <= registers ? 3 : 2;
    }

    /** The tile as "rows x vectors (registers live)", for reports. */
    static String tile() {
        return MR + "x" + NV + " vectors of " + LANES + " floats (" + (MR * NV + NV + 1) + " of " + vectorRegisters() + " registers)";
    }

    /** B[d0 .. d0+dlen) × [c0, c0+cols) as panel rows: packed[off + d·NR + j] = B[d0 + d, c0 + j] for j < cols. */
    interface PanelSource {
        void pack(int c0, int cols, int d0, int dlen, float[] packed, int off);
    }

    /** What out holds before the sum: the bias of its column (zero when none), or its own value (accumulate). */
    enum Start { BIAS, ACCUMULATE }

    /** out[n, m] = x[n, k] · Wᵀ + bias: B = Wᵀ, packed by widening rows of W and transposing them into the panel. */
    static void linear(float[] x, int n, int k, WeightMatrix w, float[] bias, float[] out) {
        if (w instanceof PackedWeight p) {          // already in panels: each panel row one widening vector load
            multiply(x, n, k, (c0, cols, d0, dlen, packed, off) -> p.widen(c0, cols, d0, dlen, packed, off, NR),
                    w.rows(), bias, Start.BIAS, out);
            return;
        }
        multiply(x, n, k, (c0, cols, d0, dlen, packed, off) -> {
            float[] row = ROW.get();
            for (int j = 0; j < cols; j++) {
                w.rowToFloat(c0 + j, d0, dlen, row, 0);
                for (int d = 0; d < dlen; d++) {
                    packed[off + d * NR + j] = row[d];
                }
            }
        }, w.rows(), bias, Start.BIAS, out);
    }

    /** dx[n, k] = dy[n, m] · W with W [m, k]: B = W itself, each panel row a slice of one weight row. */
    static void timesWeight(float[] dy, int n, WeightMatrix w, float[] dx) {
        multiply(dy, n, w.rows(), (c0, cols, d0, dlen, packed, off) -> {
            for (int d = 0; d < dlen; d++) {
                w.rowToFloat(d0 + d, c0, cols, packed, off + d * NR);
            }
        }, w.cols(), null, Start.BIAS, dx);
    }

    /** dw[m, k] += dyᵀ · x with dy [n, m], x [n, k]: a = dyᵀ (transposed once), B = x. */
    static void accumulateTransposed(float[] dy, float[] x, int n, int m, int k, float[] dw) {
        float[] dyT = new float[m * n];   // [m, n]
        Parallel.forRange(0, m, Math.max(1, 16384 / Math.max(1, n)), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                for (int i = 0; i < n; i++) {
                    dyT[r * n + i] = dy[i * m + r];
                }
            }
        });
        multiply(dyT, m, n, (c0, cols, d0, dlen, packed, off) -> {
            for (int d = 0; d < dlen; d++) {
                System.arraycopy(x, (d0 + d) * k + c0, packed, off + d * NR, cols);
            }
        }, k, null, Start.ACCUMULATE, dw);
    }

    /**
     * out[i, c] = start[i, c] + Σ_d a[i, d]·B[d, c] for i < n, c < m, as one FMA chain over d in order; start is
     * bias[c] (0 without a bias) or out's own value.
     *
     * <p>Threads take groups of up to {@link #GROUP} panels. For each block of KC along depth a group's panels are
     * packed together (≤ 192 KB), then rows of a are taken MC at a time (MC·KC floats of a, 120 KB, stay in L2)
     * against every panel of the group: a is read from L3 once per group instead of once per panel (1.1–2.5×
     * on Zen 3 for 608–4096 rows; the SAM shapes with 4096 rows were bound by that traffic). Where there are fewer
     * groups than two per thread (a narrow output), each group's rows are also cut into a few parts (about MC rows or more
     * each), each part a task of its own that packs the group's panels for itself; the sums are the same.
     */
    static void multiply(float[] a, int n, int depth, PanelSource b, int m, float[] bias, Start start, float[] out) {
        int panels = (m + NR - 1) / NR;
        // groups small enough that every thread gets several (balance), at most GROUP panels
        int group = Math.max(1, Math.min(GROUP, panels / (4 * Parallel.threads())));
        int groups = (panels + group - 1) / group;
        // few panels (a narrow output: the folded attentions' 56 columns) leave threads idle: share the rows out too,
        // each part packing its group's panels for itself (cheap: a narrow B is small)
        int rowParts = 1;
        if (groups < 2 * Parallel.threads() && n >= 2 * MC) {
            rowParts = Math.min((n + MC - 1) / MC, (4 * Parallel.threads() + groups - 1) / groups);
        }
        int rowsPerPart = (n + rowParts - 1) / rowParts;
        int parts = rowParts;
        Parallel.forEachIndex(0, groups * parts, (tlo, thi) -> {
            float[] packed = PANEL.get();
            for (int task = tlo; task < thi; task++) {
                int g = task / parts;
                int r0 = task % parts * rowsPerPart;
                int r1 = Math.min(n, r0 + rowsPerPart);
                int p0 = g * group;
                int p1 = Math.min(panels, p0 + group);
                int c0 = p0 * NR;
                int c1 = Math.min(m, p1 * NR);
                if (start == Start.BIAS) {
                    for (int i = r0; i < r1; i++) {
                        for (int c = c0; c < c1; c++) {
                            out[i * m + c] = bias == null ? 0f : bias[c];
                        }
                    }
                }
                for (int d0 = 0; d0 < depth; d0 += KC) {
                    int kc = Math.min(KC, depth - d0);
                    for (int p = p0; p < p1; p++) {
                        int cols = Math.min(NR, m - p * NR);
                        int po = (p - p0) * KC * NR;
                        b.pack(p * NR, cols, d0, kc, packed, po);
                        if (cols < NR) {
                            for (int d = 0; d < kc; d++) {
                                Arrays.fill(packed, po + d * NR + cols, po + (d + 1) * NR, 0f);
                            }
                        }
                    }
                    for (int i0 = r0; i0 < r1; i0 += MC) {
                        int i1 = Math.min(r1, i0 + MC);
                        for (int p = p0; p < p1; p++) {
                            int cp = p * NR;
                            int cols = Math.min(NR, m - cp);
                            int po = (p - p0) * KC * NR;
                            if (cols == NR) {
                                int i = i0;
                                for (; i + MR <= i1; i += MR) {
                                    kernelMR(a, i * depth + d0, depth, packed, po, kc, out, i * m + cp, m);
                                }
                                for (; i < i1; i++) {
                                    kernel1(a, i * depth + d0, packed, po, kc, out, i * m + cp);
                                }
                            } else {
                                partialPanel(a, i0, i1, depth, d0, kc, packed, po, out, m, cp, cols);
                            }
                        }
                    }
                }
            }
        });
    }

    /** The last panel when m is not a multiple of NR, rows [i0, i1): the same kernels on a zero-padded copy of the tile. */
    private static void partialPanel(float[] a, int i0, int i1, int depth, int d0, int kc, float[] packed, int po, float[] out,
                                     int m, int c0, int cols) {
        float[] tile = TILE.get();
        for (int i = i0; i < i1; i += MR) {
            int rows = Math.min(MR, i1 - i);
            Arrays.fill(tile, 0f);
            for (int r = 0; r < rows; r++) {
                System.arraycopy(out, (i + r) * m + c0, tile, r * NR, cols);
            }
            if (rows == MR) {
                kernelMR(a, i * depth + d0, depth, packed, po, kc, tile, 0, NR);
            } else {
                for (int r = 0; r < rows; r++) {
                    kernel1(a, (i + r) * depth + d0, packed, po, kc, tile, r * NR);
                }
            }
            for (int r = 0; r < rows; r++) {
                System.arraycopy(tile, r * NR, out, (i + r) * m + c0, cols);
            }
        }
    }

    /** MR rows of out (from oa, row stride m), NR columns, += MR rows of a (from xa, row stride k) · packed panel. */
    private static void kernelMR(float[] a, int xa, int k, float[] p, int po, int kc, float[] out, int oa, int m) {
        if (NV == 3) {
            kernel6x3(a, xa, k, p, po, kc, out, oa, m);
        } else {
            kernel6x2(a, xa, k, p, po, kc, out, oa, m);
        }
    }

    private static void kernel1(float[] a, int xa, float[] p, int po, int kc, float[] out, int oa) {
        if (NV == 3) {
            kernel1x3(a, xa, p, po, kc, out, oa);
        } else {
            kernel1x2(a, xa, p, po, kc, out, oa);
        }
    }

    /** 6 rows × 2 vectors: 12 accumulators + 2 panel vectors + a broadcast = 15 registers (AVX2 has 16). */
    private static void kernel6x2(float[] x, int xa, int k, float[] p, int po, int kc, float[] out, int oa, int m) {
        int o0 = oa + 0 * m;
        int o1 = oa + 1 * m;
        int o2 = oa + 2 * m;
        int o3 = oa + 3 * m;
        int o4 = oa + 4 * m;
        int o5 = oa + 5 * m;
        FloatVector c00 = FloatVector.fromArray(FS, out, o0);
        FloatVector c01 = FloatVector.fromArray(FS, out, o0 + LANES);
        FloatVector c10 = FloatVector.fromArray(FS, out, o1);
        FloatVector c11 = FloatVector.fromArray(FS, out, o1 + LANES);
        FloatVector c20 = FloatVector.fromArray(FS, out, o2);
        FloatVector c21 = FloatVector.fromArray(FS, out, o2 + LANES);
        FloatVector c30 = FloatVector.fromArray(FS, out, o3);
        FloatVector c31 = FloatVector.fromArray(FS, out, o3 + LANES);
        FloatVector c40 = FloatVector.fromArray(FS, out, o4);
        FloatVector c41 = FloatVector.fromArray(FS, out, o4 + LANES);
        FloatVector c50 = FloatVector.fromArray(FS, out, o5);
        FloatVector c51 = FloatVector.fromArray(FS, out, o5 + LANES);
        int x0 = xa + 0 * k;
        int x1 = xa + 1 * k;
        int x2 = xa + 2 * k;
        int x3 = xa + 3 * k;
        int x4 = xa + 4 * k;
        int x5 = xa + 5 * k;
        for (int kk = 0, pp = po; kk < kc; kk++, pp += 2 * LANES) {
            FloatVector b0 = FloatVector.fromArray(FS, p, pp);
            FloatVector b1 = FloatVector.fromArray(FS, p, pp + LANES);
            FloatVector a;
            a = FloatVector.broadcast(FS, x[x0 + kk]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            a = FloatVector.broadcast(FS, x[x1 + kk]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
            a = FloatVector.broadcast(FS, x[x2 + kk]);
            c20 = b0.fma(a, c20);
            c21 = b1.fma(a, c21);
            a = FloatVector.broadcast(FS, x[x3 + kk]);
            c30 = b0.fma(a, c30);
            c31 = b1.fma(a, c31);
            a = FloatVector.broadcast(FS, x[x4 + kk]);
            c40 = b0.fma(a, c40);
            c41 = b1.fma(a, c41);
            a = FloatVector.broadcast(FS, x[x5 + kk]);
            c50 = b0.fma(a, c50);
            c51 = b1.fma(a, c51);
        }
        c00.intoArray(out, o0);
        c01.intoArray(out, o0 + LANES);
        c10.intoArray(out, o1);
        c11.intoArray(out, o1 + LANES);
        c20.intoArray(out, o2);
        c21.intoArray(out, o2 + LANES);
        c30.intoArray(out, o3);
        c31.intoArray(out, o3 + LANES);
        c40.intoArray(out, o4);
        c41.intoArray(out, o4 + LANES);
        c50.intoArray(out, o5);
        c51.intoArray(out, o5 + LANES);
    }

    /** 6 rows × 3 vectors: 18 accumulators + 3 panel vectors + a broadcast = 22 registers (AVX-512 has 32). */
    private static void kernel6x3(float[] x, int xa, int k, float[] p, int po, int kc, float[] out, int oa, int m) {
        int o0 = oa + 0 * m;
        int o1 = oa + 1 * m;
        int o2 = oa + 2 * m;
        int o3 = oa + 3 * m;
        int o4 = oa + 4 * m;
        int o5 = oa + 5 * m;
        FloatVector c00 = FloatVector.fromArray(FS, out, o0 + 0 * LANES);
        FloatVector c01 = FloatVector.fromArray(FS, out, o0 + 1 * LANES);
        FloatVector c02 = FloatVector.fromArray(FS, out, o0 + 2 * LANES);
        FloatVector c10 = FloatVector.fromArray(FS, out, o1 + 0 * LANES);
        FloatVector c11 = FloatVector.fromArray(FS, out, o1 + 1 * LANES);
        FloatVector c12 = FloatVector.fromArray(FS, out, o1 + 2 * LANES);
        FloatVector c20 = FloatVector.fromArray(FS, out, o2 + 0 * LANES);
        FloatVector c21 = FloatVector.fromArray(FS, out, o2 + 1 * LANES);
        FloatVector c22 = FloatVector.fromArray(FS, out, o2 + 2 * LANES);
        FloatVector c30 = FloatVector.fromArray(FS, out, o3 + 0 * LANES);
        FloatVector c31 = FloatVector.fromArray(FS, out, o3 + 1 * LANES);
        FloatVector c32 = FloatVector.fromArray(FS, out, o3 + 2 * LANES);
        FloatVector c40 = FloatVector.fromArray(FS, out, o4 + 0 * LANES);
        FloatVector c41 = FloatVector.fromArray(FS, out, o4 + 1 * LANES);
        FloatVector c42 = FloatVector.fromArray(FS, out, o4 + 2 * LANES);
        FloatVector c50 = FloatVector.fromArray(FS, out, o5 + 0 * LANES);
        FloatVector c51 = FloatVector.fromArray(FS, out, o5 + 1 * LANES);
        FloatVector c52 = FloatVector.fromArray(FS, out, o5 + 2 * LANES);
        int x0 = xa + 0 * k;
        int x1 = xa + 1 * k;
        int x2 = xa + 2 * k;
        int x3 = xa + 3 * k;
        int x4 = xa + 4 * k;
        int x5 = xa + 5 * k;
        for (int kk = 0, pp = po; kk < kc; kk++, pp += 3 * LANES) {
            FloatVector b0 = FloatVector.fromArray(FS, p, pp + 0 * LANES);
            FloatVector b1 = FloatVector.fromArray(FS, p, pp + 1 * LANES);
            FloatVector b2 = FloatVector.fromArray(FS, p, pp + 2 * LANES);
            FloatVector a;
            a = FloatVector.broadcast(FS, x[x0 + kk]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            c02 = b2.fma(a, c02);
            a = FloatVector.broadcast(FS, x[x1 + kk]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
            c12 = b2.fma(a, c12);
            a = FloatVector.broadcast(FS, x[x2 + kk]);
            c20 = b0.fma(a, c20);
            c21 = b1.fma(a, c21);
            c22 = b2.fma(a, c22);
            a = FloatVector.broadcast(FS, x[x3 + kk]);
            c30 = b0.fma(a, c30);
            c31 = b1.fma(a, c31);
            c32 = b2.fma(a, c32);
            a = FloatVector.broadcast(FS, x[x4 + kk]);
            c40 = b0.fma(a, c40);
            c41 = b1.fma(a, c41);
            c42 = b2.fma(a, c42);
            a = FloatVector.broadcast(FS, x[x5 + kk]);
            c50 = b0.fma(a, c50);
            c51 = b1.fma(a, c51);
            c52 = b2.fma(a, c52);
        }
        c00.intoArray(out, o0 + 0 * LANES);
        c01.intoArray(out, o0 + 1 * LANES);
        c02.intoArray(out, o0 + 2 * LANES);
        c10.intoArray(out, o1 + 0 * LANES);
        c11.intoArray(out, o1 + 1 * LANES);
        c12.intoArray(out, o1 + 2 * LANES);
        c20.intoArray(out, o2 + 0 * LANES);
        c21.intoArray(out, o2 + 1 * LANES);
        c22.intoArray(out, o2 + 2 * LANES);
        c30.intoArray(out, o3 + 0 * LANES);
        c31.intoArray(out, o3 + 1 * LANES);
        c32.intoArray(out, o3 + 2 * LANES);
        c40.intoArray(out, o4 + 0 * LANES);
        c41.intoArray(out, o4 + 1 * LANES);
        c42.intoArray(out, o4 + 2 * LANES);
        c50.intoArray(out, o5 + 0 * LANES);
        c51.intoArray(out, o5 + 1 * LANES);
        c52.intoArray(out, o5 + 2 * LANES);
    }

    /** One row, 2 vectors: out[oa .. oa+NR) += x[xa .. xa+kc) · packed panel. */
    private static void kernel1x2(float[] x, int xa, float[] p, int po, int kc, float[] out, int oa) {
        FloatVector c0 = FloatVector.fromArray(FS, out, oa);
        FloatVector c1 = FloatVector.fromArray(FS, out, oa + LANES);
        for (int kk = 0, pp = po; kk < kc; kk++, pp += 2 * LANES) {
            FloatVector a = FloatVector.broadcast(FS, x[xa + kk]);
            c0 = FloatVector.fromArray(FS, p, pp).fma(a, c0);
            c1 = FloatVector.fromArray(FS, p, pp + LANES).fma(a, c1);
        }
        c0.intoArray(out, oa);
        c1.intoArray(out, oa + LANES);
    }

    /** One row, 3 vectors. */
    private static void kernel1x3(float[] x, int xa, float[] p, int po, int kc, float[] out, int oa) {
        FloatVector c0 = FloatVector.fromArray(FS, out, oa);
        FloatVector c1 = FloatVector.fromArray(FS, out, oa + LANES);
        FloatVector c2 = FloatVector.fromArray(FS, out, oa + 2 * LANES);
        for (int kk = 0, pp = po; kk < kc; kk++, pp += 3 * LANES) {
            FloatVector a = FloatVector.broadcast(FS, x[xa + kk]);
            c0 = FloatVector.fromArray(FS, p, pp).fma(a, c0);
            c1 = FloatVector.fromArray(FS, p, pp + LANES).fma(a, c1);
            c2 = FloatVector.fromArray(FS, p, pp + 2 * LANES).fma(a, c2);
        }
        c0.intoArray(out, oa);
        c1.intoArray(out, oa + LANES);
        c2.intoArray(out, oa + 2 * LANES);
    }

    /**
     * The fixed-order reference of {@link #multiply}: out[i, c] = fma chain over d in order from its start value,
     * one scalar element at a time (a vector lane's FMA rounds exactly as {@link Math#fma}).
     */
    static void referenceFma(float[] a, int n, int depth, float[] bT, int m, float[] bias, Start start, float[] out) {
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < m; c++) {
                float s = start == Start.ACCUMULATE ? out[i * m + c] : bias == null ? 0f : bias[c];
                for (int d = 0; d < depth; d++) {
                    s = Math.fma(a[i * depth + d], bT[c * depth + d], s);
                }
                out[i * m + c] = s;
            }
        }
    }
}
