package ai.vl4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.WeakHashMap;

/**
 * The oneDNN backend: matmul primitives, created once per shape and thread count and kept (least recently used
 * first out), run on vl4j's thread count.
 *
 * <p>What is handed over how. A float32 weight stored in the checkpoint is passed as the memory-mapped segment
 * itself, W [m, k] read as Wᵀ through its strides: no copy. oneDNN 2.x multiplies float32 by float32 or bfloat16
 * by bfloat16 (no mixed pairs), so with float32 inputs a BF16 or F16 weight is widened to float32 once and the
 * copy kept ("packed"; {@link #packedBytes()} reports the memory this costs: twice the stored size) while the
 * budget allows ({@code VL4J_DNNL_PACK_MB}, default none), else widened into a scratch buffer on every product. A heap weight
 * ({@link FloatMatrix}, changed by training between products) and the activations (Java arrays, which the
 * garbage collector may move) are copied into native buffers and the result back: O(n·(k + m)) copies around
 * O(n·k·m) arithmetic. Quantized weights go to {@link JavaBackend}.
 *
 * <p>With bfloat16 inputs ({@code --compute bf16}, {@link #bf16Inputs(boolean)}; only where oneDNN has a bfloat16
 * dot product) a stored weight's forward product multiplies bfloat16 by bfloat16 and sums in float32, at twice
 * the float32 rate: the activations are rounded to bfloat16 (to nearest, ties to even) on the way in, an F32 or
 * F16 weight is rounded to bfloat16 once, and each weight is re-laid once into the blocked layout the primitive
 * chose ({@code format_kind any}, a reorder) and kept, so the kernel does not re-block it on every product (within a
 * budget: {@code VL4J_DNNL_PACK_MB}, else a quarter of physical memory; beyond it the plain layout is passed, and
 * the weight is remembered as over the budget so its later products go to the plain layout directly). All
 * copies are reported with the packed bytes. Trained weights, on the heap, and the backward products stay float32.
 *
 * <p>One product at a time (each uses every thread): the methods are synchronized.
 */
final class DnnlBackend implements ComputeBackend {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT;
    private static final int MAX_PRIMITIVES = 256;

    private final Dnnl dnnl;
    private final long packBudget;
    private final Map<Key, Dnnl.Matmul> primitives = new LinkedHashMap<>(64, 0.75f, true);
    private final Map<WeightMatrix, MemorySegment> packed = new WeakHashMap<>();
    private final Map<WeightMatrix, MemorySegment> bf16Copies = new WeakHashMap<>();
    private final Map<WeightMatrix, Blocked> blocked = new WeakHashMap<>();
    /** Weights whose re-laid copy did not fit the budget: their products go straight to the plain layout. */
    private final java.util.Set<WeightMatrix> overBudget = java.util.Collections.newSetFromMap(new WeakHashMap<>());
    private final long blockedBudget;
    private final TreeSet<String> impls = new TreeSet<>();
    private final Scratch src = new Scratch(), wei = new Scratch(), bias = new Scratch(), dst = new Scratch();
    private long packedBytes;
    private volatile boolean bf16;                  // read on every product of many rows (MatMul's prefill branch)

    private enum Op { FORWARD, FORWARD_BF16, FORWARD_BF16_BLOCKED, BACKWARD_INPUT, BACKWARD_WEIGHT }

    /** A weight re-laid in the layout a bfloat16 primitive chose (its descriptor), kept while the weight lives. */
    private record Blocked(MemorySegment layout, MemorySegment data) {
    }

    private record Key(Op op, int n, int k, int m, boolean bias, int threads) {
    }

    DnnlBackend(Dnnl dnnl, long packBudgetBytes) {
        this(dnnl, packBudgetBytes, blockedBudget());
    }

    /** With the budget of re-laid bfloat16 copies given (the other constructor reads it from the environment). */
    DnnlBackend(Dnnl dnnl, long packBudgetBytes, long blockedBudgetBytes) {
        this.dnnl = dnnl;
        this.packBudget = packBudgetBytes;
        this.blockedBudget = blockedBudgetBytes;
    }

    @Override
    public String name() {
        return "dnnl";
    }

    @Override
    public synchronized String describe() {
        return "dnnl (oneDNN " + dnnl.version() + ", " + dnnl.runtime() + ", ISA " + dnnl.isa() + (bf16 ? ", bf16 inputs" : "")
                + (impls.isEmpty() ? "" : ", matmul " + String.join(" ", impls))
                + (packedBytes == 0 ? "" : String.format(java.util.Locale.ROOT, ", %d MB of weights copied for it", packedBytes >> 20)) + ")";
    }

    Dnnl library() {
        return dnnl;
    }

    /** Matmul primitives built and kept (one per operation, shape and thread count). */
    synchronized int primitiveCount() {
        return primitives.size();
    }

    /** Native memory held by copies of weights: float32 widenings, bfloat16 roundings, re-laid bfloat16 ones. */
    synchronized long packedBytes() {
        return packedBytes;
    }

    /**
     * Sets whether stored weights' forward products take bfloat16 inputs; refused (false returned, nothing
     * changed) where oneDNN has no bfloat16 dot product on this CPU, where it would run slower than float32.
     */
    synchronized boolean bf16Inputs(boolean on) {
        if (on && !dnnl.hasBf16Dot()) {
            return false;
        }
        bf16 = on;
        return true;
    }

    /** True while forward products of stored weights take bfloat16 inputs. */
    boolean bf16Inputs() {
        return bf16;
    }

    /**
     * Fewer rows than this go to the Java kernels: each call copies its operands into native memory (and widens a
     * 16-bit weight, or copies a trained one, or a gradient in and out), work proportional to the weight's size that
     * a product of a few rows does not repay; and each new row count would JIT another primitive (training's
     * samples differ in length). oneDNN pays off on the vision towers' hundreds to thousands of rows.
     */
    static final int MIN_ROWS = 64;

    /** A packed weight's stored tensor (oneDNN reads the checkpoint's layout), other weights as they are. */
    private static WeightMatrix stored(WeightMatrix w) {
        return w instanceof PackedWeight p ? p.source() : w;
    }

    /** True for the weights oneDNN multiplies here: dense float (stored or on the heap). */
    static boolean supports(WeightMatrix w) {
        return w instanceof Tensor t && t.dtype().isFloatWeight() || w instanceof FloatMatrix;
    }

    @Override
    public synchronized void linear(float[] x, int n, WeightMatrix w, float[] b, float[] out) {
        w = stored(w);
        if (!supports(w) || n < MIN_ROWS) {
            JavaBackend.INSTANCE.linear(x, n, w, b, out);
            return;
        }
        int k = w.cols();
        int m = w.rows();
        if (bf16 && w instanceof Tensor t && t.data().isNative()) {
            linearBf16(x, n, t, b, out);
            return;
        }
        // src x [n, k]; weights Wᵀ [k, m] = W [m, k] read with strides (1, k); dst [n, m]
        Dnnl.Matmul mm = primitive(new Key(Op.FORWARD, n, k, m, b != null, Parallel.threads()),
                key -> dnnl.matmul(n, k, m, new long[] {k, 1}, new long[] {1, k}, b != null, false));
        MemorySegment xs = copyIn(src, x, (long) n * k);
        MemorySegment bs = b == null ? null : copyIn(bias, b, m);
        MemorySegment os = dst.get((long) n * m);
        mm.run(xs, weights(w), bs, os);
        copyOut(os, out, (long) n * m);
    }

    /** out = bf16(x) · bf16(W)ᵀ + b, summed in float32: x rounded on the way in, W re-laid once (or as stored). */
    private void linearBf16(float[] x, int n, Tensor w, float[] b, float[] out) {
        int k = w.cols();
        int m = w.rows();
        Dnnl.Matmul mm = null;
        MemorySegment ws = null;
        if (!overBudget.contains(w)) {
            mm = primitive(new Key(Op.FORWARD_BF16_BLOCKED, n, k, m, b != null, Parallel.threads()),
                    key -> dnnl.matmul(n, k, m, Dnnl.Type.BF16, new long[] {k, 1}, Dnnl.Type.BF16, null, b != null, false));
            ws = blockedWeights(w, mm.weightsLayout());
        }
        if (ws == null) {
            // over the budget for re-laid copies: the plain layout, re-blocked by oneDNN on every product; the
            // weight is marked, so its later products (other row counts too) neither look up nor build the
            // blocked primitive, nor sum the held bytes again (a copy of it in another row count's layout, never
            // read again, is dropped)
            if (overBudget.add(w) && blocked.remove(w) != null) {
                packedBytes = heldBytes();
            }
            mm = primitive(new Key(Op.FORWARD_BF16, n, k, m, b != null, Parallel.threads()),
                    key -> dnnl.matmul(n, k, m, Dnnl.Type.BF16, new long[] {k, 1}, Dnnl.Type.BF16, new long[] {1, k}, b != null, false));
            ws = bf16Weights(w);
        }
        MemorySegment xs = src.get(((long) n * k + 1) / 2);
        Parallel.forRange(0, n * k, 1 << 16, (lo, hi) -> Widen.floatToBf16(x, lo, xs, 2L * lo, hi - lo));
        MemorySegment bs = b == null ? null : copyIn(bias, b, m);
        MemorySegment os = dst.get((long) n * m);
        mm.run(xs, ws, bs, os);
        copyOut(os, out, (long) n * m);
    }

    /**
     * W in the layout the primitive chose (oneDNN's blocked bfloat16 panels), re-laid once and kept; again if a
     * primitive for another row count chose another layout. Null where the copy would pass the budget.
     */
    private MemorySegment blockedWeights(Tensor w, MemorySegment layout) {
        Blocked b = blocked.get(w);
        if (b != null && dnnl.sameLayout(b.layout(), layout)) {
            return b.data();
        }
        long bytes = dnnl.bytes(layout);
        packedBytes = heldBytes();
        if (packedBytes - (b == null ? 0 : b.data().byteSize()) + bytes > blockedBudget) {
            return null;
        }
        MemorySegment data = dnnl.reorder(bf16Weights(w), w.cols(), w.rows(), Dnnl.Type.BF16, new long[] {1, w.cols()}, layout, Arena.ofAuto());
        blocked.put(w, new Blocked(layout, data));
        bf16Copies.remove(w);          // an F32/F16 weight's plain bfloat16 copy is not read again (made anew if needed)
        packedBytes = heldBytes();
        return data;
    }

    /**
     * Memory the re-laid bfloat16 copies may take: {@code VL4J_DNNL_PACK_MB} where set, else a quarter of the
     * machine's physical memory.
     */
    private static long blockedBudget() {
        long set = Backends.packBudgetOrNegative();
        if (set >= 0) {
            return set;
        }
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize() / 4;
        }
        return 0;
    }

    /** W [m, k] as bfloat16: the stored segment itself (BF16), or a copy rounded once and kept. */
    private MemorySegment bf16Weights(Tensor w) {
        if (w.dtype() == DType.BF16) {
            return w.data();
        }
        MemorySegment p = bf16Copies.get(w);
        if (p == null) {
            int k = w.cols();
            MemorySegment to = Arena.ofAuto().allocate(2L * w.rows() * k, 64);
            forEachRow(w, (r, row) -> Widen.floatToBf16(row, 0, to, 2L * r * k, k));
            p = to;
            bf16Copies.put(w, p);
            packedBytes = heldBytes();
        }
        return p;
    }

    /** The native copies of weights still referenced (those of weights gone are freed with them). */
    private long heldBytes() {
        return packed.values().stream().mapToLong(MemorySegment::byteSize).sum()
                + bf16Copies.values().stream().mapToLong(MemorySegment::byteSize).sum()
                + blocked.values().stream().mapToLong(b -> b.data().byteSize()).sum();
    }

    @Override
    public synchronized void backwardInput(float[] dy, int n, WeightMatrix w, float[] dx) {
        w = stored(w);
        if (!supports(w) || n < MIN_ROWS) {
            JavaBackend.INSTANCE.backwardInput(dy, n, w, dx);
            return;
        }
        int k = w.cols();
        int m = w.rows();
        // src dy [n, m]; weights W [m, k] as stored; dst dx [n, k]
        Dnnl.Matmul mm = primitive(new Key(Op.BACKWARD_INPUT, n, k, m, false, Parallel.threads()),
                key -> dnnl.matmul(n, m, k, new long[] {m, 1}, new long[] {k, 1}, false, false));
        MemorySegment ys = copyIn(src, dy, (long) n * m);
        MemorySegment os = dst.get((long) n * k);
        mm.run(ys, weights(w), null, os);
        copyOut(os, dx, (long) n * k);
    }

    @Override
    public synchronized void backwardWeight(float[] dy, float[] x, int n, int m, int k, float[] dw) {
        if (n < MIN_ROWS) {
            JavaBackend.INSTANCE.backwardWeight(dy, x, n, m, k, dw);
            return;
        }
        // src dyᵀ [m, n] = dy [n, m] read with strides (1, m); weights x [n, k]; dst dw [m, k] += (sum post-op)
        Dnnl.Matmul mm = primitive(new Key(Op.BACKWARD_WEIGHT, n, k, m, false, Parallel.threads()),
                key -> dnnl.matmul(m, n, k, new long[] {1, m}, new long[] {k, 1}, false, true));
        MemorySegment ys = copyIn(src, dy, (long) n * m);
        MemorySegment xs = copyIn(wei, x, (long) n * k);
        MemorySegment os = copyIn(dst, dw, (long) m * k);
        mm.run(ys, xs, null, os);
        copyOut(os, dw, (long) m * k);
    }

    private Dnnl.Matmul primitive(Key key, java.util.function.Function<Key, Dnnl.Matmul> create) {
        dnnl.setThreads(key.threads());
        Dnnl.Matmul mm = primitives.get(key);
        if (mm == null) {
            mm = create.apply(key);
            impls.add(mm.impl());
            primitives.put(key, mm);
            if (primitives.size() > MAX_PRIMITIVES) {
                var eldest = primitives.entrySet().iterator();
                eldest.next().getValue().close();
                eldest.remove();
            }
        }
        return mm;
    }

    /** W [m, k] as float32 native memory: the mapped segment itself (F32), a packed copy, or a scratch copy. */
    private MemorySegment weights(WeightMatrix w) {
        if (w instanceof Tensor t && t.dtype() == DType.F32 && t.data().isNative()) {
            return t.data();
        }
        if (w instanceof FloatMatrix f) {
            return copyIn(wei, f.data(), f.data().length);
        }
        if (w instanceof Tensor t && t.dtype() == DType.F32) {
            // a heap view (a parameter in training: it changes between products), copied each time, never packed
            MemorySegment seg = wei.get((long) w.rows() * w.cols());
            MemorySegment from = t.data();
            Parallel.forRange(0, (int) ((long) w.rows() * w.cols()), 1 << 18,
                    (lo, hi) -> MemorySegment.copy(from, 4L * lo, seg, 4L * lo, 4L * (hi - lo)));
            return seg;
        }
        MemorySegment p = packed.get(w);
        if (p != null) {
            return p;
        }
        long bytes = 4L * w.rows() * w.cols();
        packedBytes = heldBytes();
        if (packedBytes + bytes <= packBudget) {
            p = Arena.ofAuto().allocate(bytes, 64);
            widen(w, p);
            packed.put(w, p);
            packedBytes += bytes;
            return p;
        }
        p = wei.get((long) w.rows() * w.cols());
        widen(w, p);
        return p;
    }

    /** Every row of w widened to float32 into p, rows shared out over the threads. */
    private static void widen(WeightMatrix w, MemorySegment p) {
        int k = w.cols();
        forEachRow(w, (r, row) -> MemorySegment.copy(row, 0, p, F32, 4L * r * k, k));
    }

    /** Where a weight row, widened to float32, goes. */
    @FunctionalInterface
    private interface RowSink {
        void put(int row, float[] values);
    }

    /** Each row of w widened to float32 and handed to sink, rows shared out over the threads. */
    private static void forEachRow(WeightMatrix w, RowSink sink) {
        int k = w.cols();
        Parallel.forRange(0, w.rows(), Math.max(1, 65536 / Math.max(1, k)), (lo, hi) -> {
            float[] row = new float[k];
            for (int r = lo; r < hi; r++) {
                w.rowToFloat(r, 0, k, row, 0);
                sink.put(r, row);
            }
        });
    }

    private static MemorySegment copyIn(Scratch s, float[] a, long count) {
        MemorySegment seg = s.get(count);
        int n = (int) count;
        Parallel.forRange(0, n, 1 << 18, (lo, hi) -> MemorySegment.copy(a, lo, seg, F32, 4L * lo, hi - lo));
        return seg;
    }

    private static void copyOut(MemorySegment seg, float[] a, long count) {
        int n = (int) count;
        Parallel.forRange(0, n, 1 << 18, (lo, hi) -> MemorySegment.copy(seg, F32, 4L * lo, a, lo, hi - lo));
    }

    /** A native float buffer that grows to the largest size asked for. */
    private static final class Scratch {
        private Arena arena;
        private MemorySegment segment = MemorySegment.NULL;

        MemorySegment get(long floats) {
            long bytes = Math.max(4, 4 * floats);
            if (segment.byteSize() < bytes) {
                if (arena != null) {
                    arena.close();
                }
                arena = Arena.ofShared();
                segment = arena.allocate(bytes, 64);
            }
            return segment.asSlice(0, bytes);
        }
    }
}
