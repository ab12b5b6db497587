package ai.vl4j.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decode products with {@link QuantizedTensor} weights: out[b, r] = Σ_blocks d·Σ_j q_j·x_b[j] for up to 8
 * vectors (a batch of decoded sequences) per pass over the weights; nothing is dequantized to memory.
 * <ul>
 *   <li>Q8_0: as GGML does (its Q8_0 dot product takes Q8_0 activations), x is first quantized per block of 32 to
 *       int8 ({@link #prepare}); per block the weights' bytes are widened to 16-bit lanes, multiplied by the int8
 *       inputs, two vectors' products added in 16 bits and each 32-bit lane's halves added as ints; the block's
 *       integer sums are scaled by d_w·d_x in float. Up to 4 inputs share each widening of a row.
 *   <li>Q4_0: as GGML does (its Q4_0 dot product takes Q8_0 activations), x is first quantized per block of 32 to
 *       int8 ({@link #prepare}: dx = max|x|/127, rounded half away from zero) and laid out in the order of the
 *       weights' 16-bit words (see {@link QuantType}). One vector of words holds WORDS / 8 blocks; four shifts
 *       give its nibbles, each multiplied by the matching int8 values in 16-bit lanes (|Σ of 4 products|
 *       ≤ 4·15·127 fits), adjacent lanes (same block) are added into 32-bit lanes, and the integer sums of the
 *       unsigned nibbles are scaled by d_w·d_x in float. The −8 of every nibble comes off once per block, in
 *       float: d_w·(−8·d_x·Σ x_q), the second factor precomputed with the int8 inputs. About 0.2 vector
 *       operations per weight, where widening each nibble to float took 0.4.
 * </ul>
 * Every input takes the same operations in the same order whatever the batch, so batched decode is bit-identical
 * to decoding alone. Measured rates per CPU class are in README (Performance).
 */
final class QuantGemv {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, FS.vectorShape());
    private static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, FS.vectorShape());
    private static final int LANES = FS.length();
    private static final int BLOCK = QuantType.BLOCK;
    /** 16-bit words per vector; a Q4_0 block is 8 words (16 bytes), so WORDS / 8 blocks per vector. */
    private static final int WORDS = SS.length();
    /** WORDS int8 weights per load, widened to one vector of 16-bit lanes. */
    private static final VectorSpecies<Byte> Q8_WORD_BYTES = VectorSpecies.of(byte.class, VectorShape.forBitSize(LANES * 16));
    /** Q8_0 weights per step of the int8 kernel: two vectors of words where a block holds two, else one. */
    private static final int Q8_STEP = Math.min(BLOCK, 2 * WORDS);
    private static final int CHUNK_BLOCKS = WORDS / 8;
    /** F16 scales of LANES blocks per load. */
    private static final VectorSpecies<Short> HALF = VectorSpecies.of(short.class, VectorShape.forBitSize(LANES * 16));
    /**
     * After adding word pairs, 4 int lanes belong to each block: lane i takes the scale of the vector's block i / 4,
     * i.e. lane c·CHUNK_BLOCKS + i / 4 of a vector of scales that starts c vectors of words earlier.
     */
    private static final VectorShuffle<Float> BLOCK_OF_LANE = VectorShuffle.fromOp(FS, i -> i / 4);
    private static final VectorShuffle<Float> CHUNK_1 = VectorShuffle.fromOp(FS, i -> CHUNK_BLOCKS + i / 4);
    private static final VectorShuffle<Float> CHUNK_2 = VectorShuffle.fromOp(FS, i -> 2 * CHUNK_BLOCKS + i / 4);
    private static final VectorShuffle<Float> CHUNK_3 = VectorShuffle.fromOp(FS, i -> 3 * CHUNK_BLOCKS + i / 4);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /*
     * VectorMath.sumLanes' tree, written out in each kernel: a kernel with several accumulators passes C2's inlining
     * cutoff (NodeCountInliningCutoff) before its last sums, and a vector handed to a method not inlined is boxed,
     * an allocation per row and input. Lane i takes lane i + s (mod LANES); the same order, so the same bits.
     */
    private static final VectorShuffle<Float> UP_8 = VectorShuffle.fromOp(FS, i -> (i + 8) % LANES);
    private static final VectorShuffle<Float> UP_4 = VectorShuffle.fromOp(FS, i -> (i + 4) % LANES);
    private static final VectorShuffle<Float> UP_2 = VectorShuffle.fromOp(FS, i -> (i + 2) % LANES);
    private static final VectorShuffle<Float> UP_1 = VectorShuffle.fromOp(FS, i -> (i + 1) % LANES);
    private static final ThreadLocal<float[]> SCALES = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<Q8Activations> ACTIVATIONS = ThreadLocal.withInitial(Q8Activations::new);
    private static final ThreadLocal<float[]> SUMS = ThreadLocal.withInitial(() -> new float[8]);

    private QuantGemv() {
    }

    /**
     * The input vectors quantized to int8 for the Q4_0 kernel, per vector: {@code values} in chunks of
     * CHUNK_BLOCKS blocks (value j of the chunk's block c at [s·WORDS + 8c + j mod 8], s = j / 8: the place of
     * its weight nibble); per block {@code blockScales} = dx and {@code corrections} = −8·dx·Σ of its values (the
     * nibbles' offset of −8, applied once per block); and per 32-bit lane of the kernel (4 per block)
     * {@code scales} = the block's dx again, for the pair kernel. Blocks past the end of x are zero, the
     * per-block arrays padded with zeros to whole vectors. For the Q8_0 kernel ({@link #prepareQ8}) the values are
     * in natural order and only {@code blockScales} is used. One buffer per calling thread, reused by both.
     */
    static final class Q8Activations {
        short[] values = new short[0];
        float[] scales = new float[0];
        float[] blockScales = new float[0];
        float[] corrections = new float[0];
        int valuesPerRow;
        int lanesPerRow;
        int blocksPerRow;
        final int[] block = new int[BLOCK];   // one block's int8 values while it is laid out
    }

    /** x quantized to int8 per block of 32, laid out for the kernel of this weight type. */
    static Q8Activations prepare(float[] x, int n, int k, QuantType type) {
        if (type == QuantType.Q8_0) {
            return prepareQ8(x, n, k);
        }
        int chunks = (QuantType.blocks(k) + CHUNK_BLOCKS - 1) / CHUNK_BLOCKS;
        Q8Activations a = ACTIVATIONS.get();
        a.valuesPerRow = chunks * CHUNK_BLOCKS * BLOCK;
        a.lanesPerRow = chunks * CHUNK_BLOCKS * 4;
        a.blocksPerRow = (chunks * CHUNK_BLOCKS + LANES - 1) / LANES * LANES;   // whole vectors of per-block values
        if (a.values.length < n * a.valuesPerRow) {
            a.values = new short[n * a.valuesPerRow];
        }
        if (a.scales.length < n * a.lanesPerRow) {
            a.scales = new float[n * a.lanesPerRow];
        }
        if (a.blockScales.length < n * a.blocksPerRow) {
            a.blockScales = new float[n * a.blocksPerRow];
            a.corrections = new float[n * a.blocksPerRow];
        }
        int[] q = a.block;
        for (int i = 0; i < n; i++) {
            java.util.Arrays.fill(a.blockScales, i * a.blocksPerRow, (i + 1) * a.blocksPerRow, 0f);
            java.util.Arrays.fill(a.corrections, i * a.blocksPerRow, (i + 1) * a.blocksPerRow, 0f);
            for (int b = 0; b < chunks * CHUNK_BLOCKS; b++) {
                int from = i * k + b * BLOCK;
                int len = Math.max(0, Math.min(BLOCK, k - b * BLOCK));      // 0 for padding blocks
                int chunk = i * a.valuesPerRow + (b / CHUNK_BLOCKS) * CHUNK_BLOCKS * BLOCK + 8 * (b % CHUNK_BLOCKS);
                int lanes = i * a.lanesPerRow + 4 * b;
                int at = i * a.blocksPerRow + b;
                if (len == BLOCK && LANES == 16) {
                    quantizeBlock(x, from, a, chunk, lanes, at);
                    continue;
                }
                float dx = int8Block(x, from, len, q);
                for (int j = 0; j < BLOCK; j++) {
                    a.values[chunk + (j / 8) * WORDS + j % 8] = (short) q[j];
                }
                int sum = 0;
                for (int j = 0; j < BLOCK; j++) {
                    sum += q[j];
                }
                setBlock(a, lanes, at, dx, sum);
            }
        }
        return a;
    }

    /**
     * x as GGML's Q8_0 activations, in natural order: per input, blocks(k) blocks of 32 int8 values in 16-bit lanes
     * ({@code values}, zeros past k), and per block dx = max|x|/127 ({@code blockScales}).
     */
    private static Q8Activations prepareQ8(float[] x, int n, int k) {
        int blocks = QuantType.blocks(k);
        Q8Activations a = ACTIVATIONS.get();
        a.valuesPerRow = blocks * BLOCK;
        a.blocksPerRow = blocks;
        a.lanesPerRow = 0;
        if (a.values.length < n * a.valuesPerRow) {
            a.values = new short[n * a.valuesPerRow];
        }
        if (a.blockScales.length < n * blocks) {      // grown together, as the Q4_0 layout checks one for both
            a.blockScales = new float[n * blocks];
            a.corrections = new float[n * blocks];
        }
        int[] q = a.block;
        for (int i = 0; i < n; i++) {
            for (int b = 0; b < blocks; b++) {
                int len = Math.min(BLOCK, k - b * BLOCK);
                a.blockScales[i * blocks + b] = int8Block(x, i * k + b * BLOCK, len, q);
                int at = i * a.valuesPerRow + b * BLOCK;
                for (int j = 0; j < BLOCK; j++) {
                    a.values[at + j] = (short) q[j];
                }
            }
        }
        return a;
    }

    /**
     * One block of x to int8 as GGML does: dx = max|x|/127, q[j] = x[from + j]/dx rounded half away from zero for
     * j < len, 0 after. Returns dx.
     */
    private static float int8Block(float[] x, int from, int len, int[] q) {
        float amax = 0f;
        for (int j = 0; j < len; j++) {
            amax = Math.max(amax, Math.abs(x[from + j]));
        }
        float dx = amax / 127f;
        float id = dx != 0f ? 1f / dx : 0f;
        for (int j = 0; j < BLOCK; j++) {
            float v = j < len ? x[from + j] * id : 0f;
            q[j] = v >= 0 ? Math.round(v) : -Math.round(-v);     // half away from zero, as GGML's roundf
        }
        return dx;
    }

    /**
     * {@link #prepare} for one whole block with vectors: the same values as its scalar loop. Rounding half away
     * from zero is sign·(int)(|v| + 0.5), except below 0.5, where the float sum can round up to 1 (0.49999997 +
     * 0.5 = 1.0 in float): those are 0, as Math.round gives.
     */
    private static void quantizeBlock(float[] x, int from, Q8Activations a, int chunk, int lanes, int at) {
        float amax = FloatVector.fromArray(FloatVector.SPECIES_512, x, from).abs()
                .max(FloatVector.fromArray(FloatVector.SPECIES_512, x, from + 16).abs()).reduceLanes(VectorOperators.MAX);
        float dx = amax / 127f;
        float id = dx != 0f ? 1f / dx : 0f;
        IntVector total = IntVector.zero(IntVector.SPECIES_256);
        for (int s = 0; s < 4; s++) {                  // values 8s .. 8s+7: eight words' nibble s
            FloatVector v = FloatVector.fromArray(FloatVector.SPECIES_256, x, from + 8 * s).mul(id);
            FloatVector mag = v.abs();
            IntVector r = ((IntVector) mag.add(0.5f).convert(VectorOperators.F2I, 0))
                    .blend(0, mag.compare(VectorOperators.LT, 0.5f).cast(IntVector.SPECIES_256));
            r = r.blend(r.neg(), v.compare(VectorOperators.LT, 0f).cast(IntVector.SPECIES_256));
            r.convertShape(VectorOperators.I2S, ShortVector.SPECIES_128, 0).reinterpretAsShorts()
                    .intoArray(a.values, chunk + s * WORDS);
            total = total.add(r);
        }
        setBlock(a, lanes, at, dx, total.reduceLanes(VectorOperators.ADD));
    }

    /** A block's scale dx (per block, and for each of its 4 kernel lanes) and its correction −8·dx·Σ x_q. */
    private static void setBlock(Q8Activations a, int lanes, int at, float dx, int sum) {
        java.util.Arrays.fill(a.scales, lanes, lanes + 4, dx);
        a.blockScales[at] = dx;
        a.corrections[at] = -8 * sum * dx;
    }

    /**
     * Output rows [lo, hi) of out[b·m + r] = W[r]·x_b (+ bias[r]) for b < n; xq from {@link #prepare} with the same x.
     * Each (row, vector) is summed in one order whatever n is (see the kernels), so a sequence's result is the same
     * decoded alone or in a batch.
     */
    static void rows(float[] x, Q8Activations xq, int n, int k, QuantizedTensor w, int m, float[] bias, float[] out, int lo, int hi) {
        if (LANES > 16 || BLOCK % (2 * LANES) != 0) {
            throw new IllegalStateException("quantized kernels assume 4, 8 or 16 float lanes, not " + LANES);
        }
        int blocks = QuantType.blocks(k);
        float[] d = SCALES.get();
        if (d.length < blocks + 2 * LANES) {
            d = new float[blocks + 2 * LANES];           // Q4_0 reads whole vectors of scales past the last block
            SCALES.set(d);
        }
        float[] sums = SUMS.get();
        if (sums.length < n) {
            sums = new float[n];
            SUMS.set(sums);
        }
        for (int r = lo; r < hi; r++) {
            if (w.type() == QuantType.Q8_0) {
                rowQ8(xq, n, k, w, r, d, sums);
            } else {
                rowQ4(xq, n, k, w, r, d, sums);
            }
            float b = bias == null ? 0f : bias[r];
            for (int i = 0; i < n; i++) {
                out[i * m + r] = sums[i] + b;
            }
        }
    }

    /**
     * One Q8_0 row against the inputs' int8 activations (see {@link #prepareQ8}), two inputs at a time sharing the
     * widened weights, then a last odd one: per block the integer dot Σ_j q_j·x_q[j], scaled by d_w·d_x in float.
     */
    private static void rowQ8(Q8Activations xq, int n, int k, QuantizedTensor w, int r, float[] d, float[] sums) {
        int blocks = QuantType.blocks(k);
        long qRow = r * w.type().rowBytes(k);
        widenScales(w.scales(), 2L * r * blocks, blocks, d);                      // the row's scales, once
        int i = 0;
        for (; i + 3 < n; i += 4) {
            dotQ8Quad(w.quants(), qRow, blocks, d, xq, i, sums);
        }
        for (; i + 1 < n; i += 2) {
            dotQ8Pair(w.quants(), qRow, blocks, d, xq, i, sums);
        }
        if (i < n) {
            sums[i] = dotQ8One(w.quants(), qRow, blocks, d, xq, i);
        }
    }

    /**
     * Σ_blocks d_w·d_x·Σ_j q_j·x_q[j] for one row and input i. Per block: WORDS weights at a time widened to 16-bit
     * lanes and multiplied by the int8 inputs (|q·x| ≤ 128·127), the products of two such parts added (≤ 32512 fits
     * 16 bits), each 32-bit lane's two halves added as ints, the block's int sums converted to float once and
     * scaled: about half the vector operations of widening every weight to float. One input of
     * {@link #dotQ8Pair}: the same operations in the same order.
     */
    private static float dotQ8One(MemorySegment q, long qRow, int blocks, float[] d, Q8Activations xq, int i) {
        short[] xv = xq.values;
        float[] dx = xq.blockScales;
        int x0 = i * xq.valuesPerRow;
        int b0 = i * xq.blocksPerRow;
        FloatVector acc = FloatVector.zero(FS);
        for (int blk = 0; blk < blocks; blk++) {
            long qb = qRow + blk * (long) BLOCK;
            int xb = x0 + blk * BLOCK;
            IntVector s = halves(q8Product(q, qb, xv, xb));
            for (int c = Q8_STEP; c < BLOCK; c += Q8_STEP) {
                s = s.add(halves(q8Product(q, qb + c, xv, xb + c)));
            }
            acc = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(FS, d[blk] * dx[b0 + blk]), acc);
        }
        acc = LANES > 8 ? acc.add(acc.rearrange(UP_8)) : acc;
        acc = LANES > 4 ? acc.add(acc.rearrange(UP_4)) : acc;
        acc = acc.add(acc.rearrange(UP_2));
        acc = acc.add(acc.rearrange(UP_1));
        return acc.lane(0);
    }

    /** {@link #dotQ8One} for inputs i and i + 1 at once (one widening of the weights), into sums[i] and sums[i + 1]. */
    private static void dotQ8Pair(MemorySegment q, long qRow, int blocks, float[] d, Q8Activations xq, int i, float[] sums) {
        short[] xv = xq.values;
        float[] dx = xq.blockScales;
        int x0 = i * xq.valuesPerRow, x1 = x0 + xq.valuesPerRow;
        int b0 = i * xq.blocksPerRow, b1 = b0 + xq.blocksPerRow;
        FloatVector acc0 = FloatVector.zero(FS), acc1 = acc0;
        for (int blk = 0; blk < blocks; blk++) {
            long qb = qRow + blk * (long) BLOCK;
            int xb = blk * BLOCK;
            ShortVector w0 = q8Words(q, qb), w1 = q8Second(q, qb, w0);
            IntVector s0 = halves(q8Product(w0, w1, xv, x0 + xb));
            IntVector s1 = halves(q8Product(w0, w1, xv, x1 + xb));
            for (int c = Q8_STEP; c < BLOCK; c += Q8_STEP) {
                w0 = q8Words(q, qb + c);
                w1 = q8Second(q, qb + c, w0);
                s0 = s0.add(halves(q8Product(w0, w1, xv, x0 + xb + c)));
                s1 = s1.add(halves(q8Product(w0, w1, xv, x1 + xb + c)));
            }
            float dw = d[blk];
            acc0 = ((FloatVector) s0.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(FS, dw * dx[b0 + blk]), acc0);
            acc1 = ((FloatVector) s1.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(FS, dw * dx[b1 + blk]), acc1);
        }
        acc0 = LANES > 8 ? acc0.add(acc0.rearrange(UP_8)) : acc0;
        acc0 = LANES > 4 ? acc0.add(acc0.rearrange(UP_4)) : acc0;
        acc0 = acc0.add(acc0.rearrange(UP_2));
        acc0 = acc0.add(acc0.rearrange(UP_1));
        sums[i] = acc0.lane(0);
        acc1 = LANES > 8 ? acc1.add(acc1.rearrange(UP_8)) : acc1;
        acc1 = LANES > 4 ? acc1.add(acc1.rearrange(UP_4)) : acc1;
        acc1 = acc1.add(acc1.rearrange(UP_2));
        acc1 = acc1.add(acc1.rearrange(UP_1));
        sums[i + 1] = acc1.lane(0);
    }

    /** {@link #dotQ8One} for inputs i .. i + 3 at once (one widening of the weights), into sums[i .. i + 3]. */
    private static void dotQ8Quad(MemorySegment q, long qRow, int blocks, float[] d, Q8Activations xq, int i, float[] sums) {
        short[] xv = xq.values;
        float[] dx = xq.blockScales;
        int x0 = i * xq.valuesPerRow, x1 = x0 + xq.valuesPerRow, x2 = x1 + xq.valuesPerRow, x3 = x2 + xq.valuesPerRow;
        int b0 = i * xq.blocksPerRow, b1 = b0 + xq.blocksPerRow, b2 = b1 + xq.blocksPerRow, b3 = b2 + xq.blocksPerRow;
        FloatVector acc0 = FloatVector.zero(FS), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int blk = 0; blk < blocks; blk++) {
            long qb = qRow + blk * (long) BLOCK;
            int xb = blk * BLOCK;
            ShortVector w0 = q8Words(q, qb), w1 = q8Second(q, qb, w0);
            IntVector s0 = halves(q8Product(w0, w1, xv, x0 + xb));
            IntVector s1 = halves(q8Product(w0, w1, xv, x1 + xb));
            IntVector s2 = halves(q8Product(w0, w1, xv, x2 + xb));
            IntVector s3 = halves(q8Product(w0, w1, xv, x3 + xb));
            for (int c = Q8_STEP; c < BLOCK; c += Q8_STEP) {
                w0 = q8Words(q, qb + c);
                w1 = q8Second(q, qb + c, w0);
                s0 = s0.add(halves(q8Product(w0, w1, xv, x0 + xb + c)));
                s1 = s1.add(halves(q8Product(w0, w1, xv, x1 + xb + c)));
                s2 = s2.add(halves(q8Product(w0, w1, xv, x2 + xb + c)));
                s3 = s3.add(halves(q8Product(w0, w1, xv, x3 + xb + c)));
            }
            float dw = d[blk];
            acc0 = ((FloatVector) s0.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(FS, dw * dx[b0 + blk]), acc0);
            acc1 = ((FloatVector) s1.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(FS, dw * dx[b1 + blk]), acc1);
            acc2 = ((FloatVector) s2.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(FS, dw * dx[b2 + blk]), acc2);
            acc3 = ((FloatVector) s3.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(FS, dw * dx[b3 + blk]), acc3);
        }
        acc0 = LANES > 8 ? acc0.add(acc0.rearrange(UP_8)) : acc0;
        acc0 = LANES > 4 ? acc0.add(acc0.rearrange(UP_4)) : acc0;
        acc0 = acc0.add(acc0.rearrange(UP_2));
        acc0 = acc0.add(acc0.rearrange(UP_1));
        sums[i] = acc0.lane(0);
        acc1 = LANES > 8 ? acc1.add(acc1.rearrange(UP_8)) : acc1;
        acc1 = LANES > 4 ? acc1.add(acc1.rearrange(UP_4)) : acc1;
        acc1 = acc1.add(acc1.rearrange(UP_2));
        acc1 = acc1.add(acc1.rearrange(UP_1));
        sums[i + 1] = acc1.lane(0);
        acc2 = LANES > 8 ? acc2.add(acc2.rearrange(UP_8)) : acc2;
        acc2 = LANES > 4 ? acc2.add(acc2.rearrange(UP_4)) : acc2;
        acc2 = acc2.add(acc2.rearrange(UP_2));
        acc2 = acc2.add(acc2.rearrange(UP_1));
        sums[i + 2] = acc2.lane(0);
        acc3 = LANES > 8 ? acc3.add(acc3.rearrange(UP_8)) : acc3;
        acc3 = LANES > 4 ? acc3.add(acc3.rearrange(UP_4)) : acc3;
        acc3 = acc3.add(acc3.rearrange(UP_2));
        acc3 = acc3.add(acc3.rearrange(UP_1));
        sums[i + 3] = acc3.lane(0);
    }

    /** WORDS int8 weights from byte offset at, widened to 16-bit lanes. */
    private static ShortVector q8Words(MemorySegment q, long at) {
        return (ShortVector) ByteVector.fromMemorySegment(Q8_WORD_BYTES, q, at, LE).convertShape(VectorOperators.B2S, SS, 0);
    }

    /** The second vector of words of a step from at (WORDS on), or w0 again where a step is one vector. */
    private static ShortVector q8Second(MemorySegment q, long at, ShortVector w0) {
        return Q8_STEP > WORDS ? q8Words(q, at + WORDS) : w0;
    }

    /** The products of Q8_STEP weights from at with x_q[xb ..] in 16-bit lanes (two vectors' products added). */
    private static ShortVector q8Product(MemorySegment q, long at, short[] xv, int xb) {
        ShortVector w0 = q8Words(q, at);
        return q8Product(w0, q8Second(q, at, w0), xv, xb);
    }

    private static ShortVector q8Product(ShortVector w0, ShortVector w1, short[] xv, int xb) {
        ShortVector p = w0.mul(ShortVector.fromArray(SS, xv, xb));
        return Q8_STEP > WORDS ? p.add(w1.mul(ShortVector.fromArray(SS, xv, xb + WORDS))) : p;
    }

    /** Each 32-bit lane's two signed 16-bit halves, added: (p >> 16) + ((p << 16) >> 16). */
    private static IntVector halves(ShortVector p) {
        IntVector v = p.reinterpretAsInts();
        return v.lanewise(VectorOperators.ASHR, 16).add(v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
    }

    /**
     * One weight row against the inputs, two at a time (sharing the nibble extraction), then a last odd one; the
     * row (1 KB at k = 2048) stays in L1 after the first pass. Each kernel keeps its vectors as locals of one
     * method: a vector handed to a helper that C2 does not inline is boxed.
     */
    private static void rowQ4(Q8Activations xq, int n, int k, QuantizedTensor w, int r, float[] d, float[] sums) {
        int blocks = QuantType.blocks(k);
        long qRow = r * w.type().rowBytes(k);
        int i = 0;
        widenScales(w.scales(), 2L * r * blocks, blocks, d);
        for (; i + 1 < n; i += 2) {
            dotQ4Pair(w.quants(), qRow, blocks, d, xq, i, sums);
        }
        if (i < n) {
            sums[i] = dotQ4One(w.quants(), qRow, blocks, d, xq, i);
        }
    }

    /**
     * A row's F16 scales into d[0, blocks) (zeros after, to a whole vector), LANES per load, widened as Widen
     * does (magnitude << 13 as float32 times 2^112, sign or-ed back) but inline: exact for every finite F16, and
     * scales are checked finite when a checkpoint is read ({@link QuantizedTensor#firstNonFiniteScale}).
     * Calling Widen.toFloat per row cost a quarter of the Q4_0 kernel's time. Once per row (Q8_0 and Q4_0), for
     * every input.
     */
    private static void widenScales(MemorySegment scales, long at, int blocks, float[] d) {
        for (int first = 0; first < blocks; first += LANES) {
            scalesF16(scales, at, first, blocks).intoArray(d, first);
        }
        java.util.Arrays.fill(d, blocks, Math.min(d.length, blocks + LANES), 0f);
    }

    /** The F16 scales of blocks [first, first + LANES) of a row (zero past blocks), widened as {@link #widenScales} does. */
    private static FloatVector scalesF16(MemorySegment dq, long dRow, int first, int blocks) {
        long dAt = dRow + 2L * first;
        ShortVector h16 = first + LANES <= blocks
                ? ShortVector.fromMemorySegment(HALF, dq, dAt, LE)
                : ShortVector.fromMemorySegment(HALF, dq, dAt, LE, HALF.indexInRange(0, blocks - first));
        IntVector h = (IntVector) h16.convertShape(VectorOperators.S2I, IS, 0);
        return h.and(0x7fff).lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats().mul(0x1p112f)
                .reinterpretAsInts().or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /**
     * Σ_blocks d_w·d_x·Σ_j (q_j − 8)·x_q[j] for one row and input i: first the nibbles' −8 of every block
     * (d_w·(−8·d_x·Σ x_q), LANES blocks per FMA), then per vector of words Σ_s nibbles_s·x_q in 16-bit lanes, word
     * pairs (same block) added into 32-bit lanes, scaled by d_w·d_x. One input of {@link #dotQ4Pair}: the same
     * operations in the same order, so a sequence decodes to the same bits alone or in a batch. One flat loop over
     * the row with the widened scales read from d: C2 keeps its accumulator and constants in registers.
     */
    private static float dotQ4One(MemorySegment q, long qRow, int blocks, float[] d, Q8Activations xq, int i) {
        short[] xv = xq.values;
        float[] xs = xq.scales;
        int x0 = i * xq.valuesPerRow;
        int l0 = i * xq.lanesPerRow;
        FloatVector acc0 = FloatVector.zero(FS);
        for (int first = 0, b0 = i * xq.blocksPerRow; first < blocks; first += LANES) {     // the nibbles' −8
            acc0 = FloatVector.fromArray(FS, d, first).fma(FloatVector.fromArray(FS, xq.corrections, b0 + first), acc0);
        }
        for (int blk = 0; blk < blocks; blk += CHUNK_BLOCKS) {
            long at = qRow + blk * 16L;
            ShortVector words = blk + CHUNK_BLOCKS <= blocks
                    ? ShortVector.fromMemorySegment(SS, q, at, LE)
                    : ShortVector.fromMemorySegment(SS, q, at, LE, SS.indexInRange(0, (blocks - blk) * 8));
            int xb = x0 + blk * BLOCK;
            ShortVector p = words.and((short) 0xF).mul(ShortVector.fromArray(SS, xv, xb))
                    .add(words.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).mul(ShortVector.fromArray(SS, xv, xb + WORDS)))
                    .add(words.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(ShortVector.fromArray(SS, xv, xb + 2 * WORDS)))
                    .add(words.lanewise(VectorOperators.LSHR, 12).mul(ShortVector.fromArray(SS, xv, xb + 3 * WORDS)));
            IntVector pairs = p.reinterpretAsInts();
            IntVector sum = pairs.add(pairs.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            FloatVector dw = FloatVector.fromArray(FS, d, blk).rearrange(BLOCK_OF_LANE);
            acc0 = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(dw.mul(FloatVector.fromArray(FS, xs, l0 + blk * 4)), acc0);
        }
        acc0 = LANES > 8 ? acc0.add(acc0.rearrange(UP_8)) : acc0;
        acc0 = LANES > 4 ? acc0.add(acc0.rearrange(UP_4)) : acc0;
        acc0 = acc0.add(acc0.rearrange(UP_2));
        acc0 = acc0.add(acc0.rearrange(UP_1));
        return acc0.lane(0);
    }

    /** {@link #dotQ4One} for inputs i and i + 1 at once (one nibble extraction), into sums[i] and sums[i + 1]. */
    private static void dotQ4Pair(MemorySegment q, long qRow, int blocks, float[] d, Q8Activations xq, int i, float[] sums) {
        short[] xv = xq.values;
        float[] xs = xq.scales;
        int x0 = i * xq.valuesPerRow;
        int l0 = i * xq.lanesPerRow;
        int x1 = x0 + xq.valuesPerRow;
        int l1 = l0 + xq.lanesPerRow;
        FloatVector acc0 = FloatVector.zero(FS);
        FloatVector acc1 = acc0;
        for (int first = 0, b0 = i * xq.blocksPerRow; first < blocks; first += LANES) {     // the nibbles' −8
            FloatVector dw = FloatVector.fromArray(FS, d, first);
            acc0 = dw.fma(FloatVector.fromArray(FS, xq.corrections, b0 + first), acc0);
            acc1 = dw.fma(FloatVector.fromArray(FS, xq.corrections, b0 + xq.blocksPerRow + first), acc1);
        }
        for (int blk = 0; blk < blocks; blk += CHUNK_BLOCKS) {
            long at = qRow + blk * 16L;
            ShortVector words = blk + CHUNK_BLOCKS <= blocks
                    ? ShortVector.fromMemorySegment(SS, q, at, LE)
                    : ShortVector.fromMemorySegment(SS, q, at, LE, SS.indexInRange(0, (blocks - blk) * 8));
            ShortVector n0 = words.and((short) 0xF);
            ShortVector n1 = words.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
            ShortVector n2 = words.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
            ShortVector n3 = words.lanewise(VectorOperators.LSHR, 12);
            FloatVector dw = FloatVector.fromArray(FS, d, blk).rearrange(BLOCK_OF_LANE);
            int xb = x0 + blk * BLOCK;
            int lb = l0 + blk * 4;
            ShortVector p = n0.mul(ShortVector.fromArray(SS, xv, xb)).add(n1.mul(ShortVector.fromArray(SS, xv, xb + WORDS)))
                    .add(n2.mul(ShortVector.fromArray(SS, xv, xb + 2 * WORDS))).add(n3.mul(ShortVector.fromArray(SS, xv, xb + 3 * WORDS)));
            IntVector pairs = p.reinterpretAsInts();
            IntVector sum = pairs.add(pairs.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            acc0 = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(dw.mul(FloatVector.fromArray(FS, xs, lb)), acc0);
            xb = x1 + blk * BLOCK;
            lb = l1 + blk * 4;
            p = n0.mul(ShortVector.fromArray(SS, xv, xb)).add(n1.mul(ShortVector.fromArray(SS, xv, xb + WORDS)))
                    .add(n2.mul(ShortVector.fromArray(SS, xv, xb + 2 * WORDS))).add(n3.mul(ShortVector.fromArray(SS, xv, xb + 3 * WORDS)));
            pairs = p.reinterpretAsInts();
            sum = pairs.add(pairs.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
            acc1 = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(dw.mul(FloatVector.fromArray(FS, xs, lb)), acc1);
        }
        acc0 = LANES > 8 ? acc0.add(acc0.rearrange(UP_8)) : acc0;
        acc0 = LANES > 4 ? acc0.add(acc0.rearrange(UP_4)) : acc0;
        acc0 = acc0.add(acc0.rearrange(UP_2));
        acc0 = acc0.add(acc0.rearrange(UP_1));
        sums[i] = acc0.lane(0);
        acc1 = LANES > 8 ? acc1.add(acc1.rearrange(UP_8)) : acc1;
        acc1 = LANES > 4 ? acc1.add(acc1.rearrange(UP_4)) : acc1;
        acc1 = acc1.add(acc1.rearrange(UP_2));
        acc1 = acc1.add(acc1.rearrange(UP_1));
        sums[i + 1] = acc1.lane(0);
    }

}
