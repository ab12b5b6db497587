package ai.vl4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A BF16 weight matrix W [m, k] re-laid once, at load, into column panels for the broadcast-form kernels: the
 * same 16-bit values, in the order a product with several input rows wants to read them.
 *
 * <pre>
 *   panel p = output rows [p·L, p·L + L)   (L = the host's float lanes; rows past m are zero)
 *   word (p, q, j) = W[p·L + j, 2q + 1] ‖ W[p·L + j, 2q]     (little-endian 32 bits; a missing last column is zero)
 *   at byte 4·((p·Q + q)·L + j),   Q = ⌈k / 2⌉
 * </pre>
 * One vector load at (p, q) holds two columns of W for L outputs: widened by a shift (column 2q) or a mask
 * (column 2q + 1), each is multiplied by one broadcast input element and reused for every input row in registers
 * ({@link PanelGemv}): decode of a batch reads each weight once per step and spends it on every sequence, and
 * prefill's {@link Gemm} widens panels with vector loads instead of transposing rows. The stored tensor stays the
 * source of truth ({@link #source()}: row reads, training, oneDNN); this copy is the same size (2 bytes a weight).
 */
public final class PackedWeight implements WeightMatrix {
    static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, FS.vectorShape());
    /** Output rows per panel: one vector of floats. */
    static final int L = FS.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfInt WORD = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    /** Column pairs packed per pass (the rows' words read in bulk, then transposed on the heap). */
    private static final int CHUNK = 512;

    private final Tensor source;
    private final Arena arena;
    private final MemorySegment panels;
    private final int rows, cols, pairs, panelCount;

    private PackedWeight(Tensor source, Arena arena, MemorySegment panels) {
        this.source = source;
        this.arena = arena;
        this.panels = panels;
        this.rows = source.rows();
        this.cols = source.cols();
        this.pairs = (cols + 1) / 2;
        this.panelCount = (rows + L - 1) / L;
    }

    /** True for the weights this layout serves: 2-D BF16 tensors (the official checkpoints' dtype). */
    public static boolean packable(WeightMatrix w) {
        return w instanceof Tensor t && t.dtype() == DType.BF16 && t.rank() == 2 && t.rows() > 0 && t.cols() > 0;
    }

    /** W re-laid into panels in memory of its own (in parallel over panels), until {@link #close}. */
    public static PackedWeight pack(Tensor w) {
        if (!packable(w)) {
            throw new IllegalArgumentException("only 2-D BF16 weights are packed, not " + w);
        }
        int m = w.rows();
        int k = w.cols();
        int q = (k + 1) / 2;
        int panelCount = (m + L - 1) / L;
        Arena arena = Arena.ofShared();
        MemorySegment panels = arena.allocate(4L * panelCount * q * L, 64);
        MemorySegment src = w.data();
        long rowBytes = 2L * k;
        int whole = k / 2;                          // pairs of two stored columns: the row's own 32-bit words
        Parallel.forRange(0, panelCount, 4, (lo, hi) -> {
            int[] rowsOf = new int[L * CHUNK];      // L rows' words of a chunk, row after row
            int[] out = new int[CHUNK * L];         // the same words, column pair after column pair
            for (int p = lo; p < hi; p++) {
                int live = Math.min(L, m - p * L);
                for (int q0 = 0; q0 < q; q0 += CHUNK) {
                    int qn = Math.min(CHUNK, q - q0);
                    int full = Math.max(0, Math.min(qn, whole - q0));
                    java.util.Arrays.fill(rowsOf, 0);
                    for (int j = 0; j < live; j++) {
                        long row = (p * L + j) * rowBytes;
                        MemorySegment.copy(src, WORD, row + 4L * q0, rowsOf, j * CHUNK, full);
                        if (full < qn) {                // odd k: the last column alone, in the low half
                            rowsOf[j * CHUNK + full] = src.get(HALF, row + rowBytes - 2) & 0xFFFF;
                        }
                    }
                    for (int j = 0; j < L; j++) {
                        for (int i = 0, at = j; i < qn; i++, at += L) {
                            out[at] = rowsOf[j * CHUNK + i];
                        }
                    }
                    MemorySegment.copy(out, 0, panels, WORD, 4L * ((long) p * q + q0) * L, qn * L);
                }
            }
        });
        return new PackedWeight(w, arena, panels);
    }

    /** Frees the panels; the weight must not be multiplied by afterwards. Idempotent. */
    public void close() {
        synchronized (arena) {
            if (arena.scope().isAlive()) {
                arena.close();
            }
        }
    }

    /** The stored tensor these panels were made from. */
    public Tensor source() {
        return source;
    }

    MemorySegment panels() {
        return panels;
    }

    /** Column pairs per panel, ⌈k / 2⌉. */
    int pairs() {
        return pairs;
    }

    /** Panels, ⌈m / L⌉. */
    int panelCount() {
        return panelCount;
    }

    @Override
    public String name() {
        return source.name();
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    /** Bytes of the panels: what a pass over the weight reads, and what this copy costs beside the mapped one. */
    @Override
    public long bytes() {
        return panels.byteSize();
    }

    @Override
    public void rowToFloat(int row, int k0, int len, float[] dst, int off) {
        source.rowToFloat(row, k0, len, dst, off);
    }

    /**
     * Widened panel rows for {@link Gemm}: packed[off + d·nr + v·L + j] = W[c0 + v·L + j, d0 + d] for d < dlen and
     * the ⌈cols / L⌉ panels from column c0 (a multiple of L) of Wᵀ; lanes past m are zero.
     */
    void widen(int c0, int cols, int d0, int dlen, float[] packed, int off, int nr) {
        int p0 = c0 / L;
        int vectors = (cols + L - 1) / L;
        for (int v = 0; v < vectors; v++) {
            long base = 4L * (p0 + v) * pairs * L;
            for (int d = 0; d < dlen; d++) {
                int c = d0 + d;
                IntVector words = IntVector.fromMemorySegment(IS, panels, base + 4L * (c >> 1) * L, LE);
                FloatVector f = (c & 1) == 0 ? words.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                        : words.and(0xFFFF0000).reinterpretAsFloats();
                f.intoArray(packed, off + d * nr + v * L);
            }
        }
    }

    @Override
    public String toString() {
        return source + " packed (" + panelCount + " panels of " + L + ")";
    }
}
