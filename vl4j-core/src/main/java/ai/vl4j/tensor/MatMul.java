package ai.vl4j.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The linear-layer kernel: out[n, m] = x[n, k] · Wᵀ + b, with W [m, k] a stored weight (F32/F16/BF16,
 * memory-mapped, never copied to the heap) and x, out float32 row-major.
 *
 * <p>Two regimes. Decode (n = 1) is a matrix-vector product bound by memory bandwidth: each weight row is
 * streamed once and widened on the fly, threads split the rows. Prefill and vision (n > 1) reuse each
 * weight row for every input row: a block of 4 weight rows is widened once into a float buffer and
 * multiplied against pairs of input rows with 8 vector accumulators.
 */
public final class MatMul {
    private static final VectorSpecies<Float> FS = Widen.FS;
    private static final int ROW_BLOCK = 4;
    private static final ThreadLocal<float[]> ROW_BUFFER = ThreadLocal.withInitial(() -> new float[0]);

    private MatMul() {
    }

    /**
     * out[i, r] = Σ_j x[i, j]·W[r, j] + bias[r] for i < n, r < m.
     *
     * @param x    input rows [n, k]
     * @param w    weight [m, k]
     * @param bias [m] or null
     * @param out  output rows [n, m]; must not alias x
     */
    public static void linear(float[] x, int n, Tensor w, float[] bias, float[] out) {
        if (w.rank() != 2) {
            throw new IllegalArgumentException("weight " + w.name() + " is not a matrix");
        }
        int m = (int) w.dim(0);
        int k = (int) w.dim(1);
        if ((long) n * k > x.length || (long) n * m > out.length) {
            throw new IllegalArgumentException("linear " + w.name() + ": buffers too small for n=" + n);
        }
        if (n <= 4) {
            Gemv.multiply(x, n, k, w, m, bias, out);
        } else {
            MemorySegment seg = w.data();
            DType dtype = w.dtype();
            Gemm.multiply(x, n, k, (row, k0, len, dst, off) -> Widen.toFloat(seg, dtype, (long) row * k + k0, dst, off, len),
                    m, bias, out);
        }
    }

    private static void gemv(float[] x, Tensor w, int m, int k, float[] bias, float[] out) {
        MemorySegment seg = w.data();
        DType dtype = w.dtype();
        int grain = Math.max(1, (1 << 16) / Math.max(1, k));
        Parallel.forRange(0, m, grain, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                float s = dotRow(seg, dtype, (long) r * k, x, k);
                out[r] = bias == null ? s : s + bias[r];
            }
        });
    }

    /** Σ_j W[row j] · x[j] with the weight widened on the fly; first = element index of the row. */
    static float dotRow(MemorySegment seg, DType dtype, long first, float[] x, int k) {
        int lanes = FS.length();
        FloatVector acc0 = FloatVector.zero(FS);
        FloatVector acc1 = FloatVector.zero(FS);
        int j = 0;
        switch (dtype) {
            case BF16 -> {
                for (; j <= k - 2 * lanes; j += 2 * lanes) {
                    acc0 = Widen.bf16Vector(seg, (first + j) * 2).fma(FloatVector.fromArray(FS, x, j), acc0);
                    acc1 = Widen.bf16Vector(seg, (first + j + lanes) * 2).fma(FloatVector.fromArray(FS, x, j + lanes), acc1);
                }
            }
            case F16 -> {
                for (; j <= k - 2 * lanes; j += 2 * lanes) {
                    acc0 = Widen.f16Vector(seg, (first + j) * 2).fma(FloatVector.fromArray(FS, x, j), acc0);
                    acc1 = Widen.f16Vector(seg, (first + j + lanes) * 2).fma(FloatVector.fromArray(FS, x, j + lanes), acc1);
                }
            }
            case F32 -> {
                for (; j <= k - 2 * lanes; j += 2 * lanes) {
                    acc0 = FloatVector.fromMemorySegment(FS, seg, (first + j) * 4, ByteOrder.LITTLE_ENDIAN)
                            .fma(FloatVector.fromArray(FS, x, j), acc0);
                    acc1 = FloatVector.fromMemorySegment(FS, seg, (first + j + lanes) * 4, ByteOrder.LITTLE_ENDIAN)
                            .fma(FloatVector.fromArray(FS, x, j + lanes), acc1);
                }
            }
            default -> throw new IllegalArgumentException("not a float weight type: " + dtype);
        }
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; j < k; j++) {
            sum += Widen.get(seg, dtype, first + j) * x[j];
        }
        return sum;
    }

    private static void gemm(float[] x, int n, Tensor w, int m, int k, float[] bias, float[] out) {
        int blocks = (m + ROW_BLOCK - 1) / ROW_BLOCK;
        Parallel.forRange(0, blocks, 1, (blo, bhi) -> {
            float[] wbuf = rowBuffer(ROW_BLOCK * k);
            for (int b = blo; b < bhi; b++) {
                int r0 = b * ROW_BLOCK;
                int rows = Math.min(ROW_BLOCK, m - r0);
                Widen.toFloat(w.data(), w.dtype(), (long) r0 * k, wbuf, 0, rows * k);
                if (rows == ROW_BLOCK) {
                    int i = 0;
                    for (; i + 1 < n; i += 2) {
                        block4x2(wbuf, x, i * k, (i + 1) * k, k, out, i * m + r0, (i + 1) * m + r0);
                    }
                    if (i < n) {
                        for (int r = 0; r < ROW_BLOCK; r++) {
                            out[i * m + r0 + r] = VectorMath.dot(wbuf, r * k, x, i * k, k);
                        }
                    }
                } else {
                    for (int i = 0; i < n; i++) {
                        for (int r = 0; r < rows; r++) {
                            out[i * m + r0 + r] = VectorMath.dot(wbuf, r * k, x, i * k, k);
                        }
                    }
                }
                if (bias != null) {
                    for (int i = 0; i < n; i++) {
                        for (int r = 0; r < rows; r++) {
                            out[i * m + r0 + r] += bias[r0 + r];
                        }
                    }
                }
            }
        });
    }

    /** 4 widened weight rows (wbuf) times 2 input rows (x at xa, xb) into out at oa.., ob... */
    private static void block4x2(float[] wbuf, float[] x, int xa, int xb, int k, float[] out, int oa, int ob) {
        int lanes = FS.length();
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int j = 0;
        for (; j <= k - lanes; j += lanes) {
            FloatVector xva = FloatVector.fromArray(FS, x, xa + j);
            FloatVector xvb = FloatVector.fromArray(FS, x, xb + j);
            FloatVector w0 = FloatVector.fromArray(FS, wbuf, j);
            FloatVector w1 = FloatVector.fromArray(FS, wbuf, k + j);
            FloatVector w2 = FloatVector.fromArray(FS, wbuf, 2 * k + j);
            FloatVector w3 = FloatVector.fromArray(FS, wbuf, 3 * k + j);
            a0 = w0.fma(xva, a0);
            a1 = w1.fma(xva, a1);
            a2 = w2.fma(xva, a2);
            a3 = w3.fma(xva, a3);
            b0 = w0.fma(xvb, b0);
            b1 = w1.fma(xvb, b1);
            b2 = w2.fma(xvb, b2);
            b3 = w3.fma(xvb, b3);
        }
        float sa0 = a0.reduceLanes(VectorOperators.ADD), sa1 = a1.reduceLanes(VectorOperators.ADD);
        float sa2 = a2.reduceLanes(VectorOperators.ADD), sa3 = a3.reduceLanes(VectorOperators.ADD);
        float sb0 = b0.reduceLanes(VectorOperators.ADD), sb1 = b1.reduceLanes(VectorOperators.ADD);
        float sb2 = b2.reduceLanes(VectorOperators.ADD), sb3 = b3.reduceLanes(VectorOperators.ADD);
        for (; j < k; j++) {
            float xva = x[xa + j], xvb = x[xb + j];
            sa0 += wbuf[j] * xva;
            sa1 += wbuf[k + j] * xva;
            sa2 += wbuf[2 * k + j] * xva;
            sa3 += wbuf[3 * k + j] * xva;
            sb0 += wbuf[j] * xvb;
            sb1 += wbuf[k + j] * xvb;
            sb2 += wbuf[2 * k + j] * xvb;
            sb3 += wbuf[3 * k + j] * xvb;
        }
        out[oa] = sa0;
        out[oa + 1] = sa1;
        out[oa + 2] = sa2;
        out[oa + 3] = sa3;
        out[ob] = sb0;
        out[ob + 1] = sb1;
        out[ob + 2] = sb2;
        out[ob + 3] = sb3;
    }

    private static float[] rowBuffer(int size) {
        float[] buf = ROW_BUFFER.get();
        if (buf.length < size) {
            buf = new float[size];
            ROW_BUFFER.set(buf);
        }
        return buf;
    }
}
