package ai.vl4j.bench;

import ai.vl4j.tensor.Parallel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's two ceilings, measured on the spot with the same thread pool the kernels use, so speed can be
 * reported as a fraction of what this machine can do: streaming read bandwidth (decode is bound by it) and
 * float32 FMA throughput (prefill and the vision towers are bound by it).
 */
public final class Roofline {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

    /** @param readGbPerS best streaming read bandwidth, GB/s; @param fmaGflops best f32 FMA rate, GFLOP/s */
    public record Result(double readGbPerS, double fmaGflops) {
    }

    private Roofline() {
    }

    public static Result measure() {
        return new Result(readBandwidth(1L << 30, 10), fmaPeak(5));
    }

    /**
     * Sums a buffer of the given size with vector loads from every thread; best of `reps` passes, GB/s. Both
     * cores are kept busy for a second first: right after a core idled, the host hands out bandwidth slowly.
     */
    static double readBandwidth(long bytes, int reps) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(bytes, 64);
            int chunks = Parallel.threads() * 16;
            long chunkBytes = bytes / chunks / 64 * 64;
            Parallel.forRange(0, chunks, 1, (lo, hi) -> {
                for (int c = lo; c < hi; c++) {
                    buf.asSlice(c * chunkBytes, chunkBytes).fill((byte) 1);
                }
            });
            double best = 0;
            float[] sink = new float[chunks];
            long warmUntil = System.nanoTime() + 1_000_000_000L;
            for (int timed = 0; timed < reps; ) {
                long t0 = System.nanoTime();
                Parallel.forRange(0, chunks, 1, (lo, hi) -> {
                    for (int c = lo; c < hi; c++) {
                        sink[c] = sum(buf, c * chunkBytes, chunkBytes);
                    }
                });
                double seconds = (System.nanoTime() - t0) / 1e9;
                if (t0 >= warmUntil) {
                    best = Math.max(best, chunks * chunkBytes / seconds / 1e9);
                    timed++;
                }
            }
            return best;
        }
    }

    private static float sum(MemorySegment seg, long offset, long bytes) {
        int step = FS.vectorByteSize();
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        long end = offset + bytes - 4L * step;
        long p = offset;
        for (; p <= end; p += 4L * step) {
            a0 = a0.add(FloatVector.fromMemorySegment(FS, seg, p, ByteOrder.nativeOrder()));
            a1 = a1.add(FloatVector.fromMemorySegment(FS, seg, p + step, ByteOrder.nativeOrder()));
            a2 = a2.add(FloatVector.fromMemorySegment(FS, seg, p + 2L * step, ByteOrder.nativeOrder()));
            a3 = a3.add(FloatVector.fromMemorySegment(FS, seg, p + 3L * step, ByteOrder.nativeOrder()));
        }
        float s = a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
        for (; p < offset + bytes; p += 4) {
            s += seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED, p);
        }
        return s;
    }

    /** Independent FMA chains in registers on every thread; best of `reps`, GFLOP/s. */
    public static double fmaPeak(int reps) {
        int threads = Parallel.threads();
        long iterations = 20_000_000L;
        float[] sink = new float[threads];
        double best = 0;
        for (int r = 0; r < reps + 1; r++) {
            long t0 = System.nanoTime();
            Parallel.forRange(0, threads, 1, (lo, hi) -> {
                for (int t = lo; t < hi; t++) {
                    sink[t] = fmaChains(iterations);
                }
            });
            double seconds = (System.nanoTime() - t0) / 1e9;
            if (r > 0) {
                best = Math.max(best, threads * iterations * 12.0 * FS.length() * 2 / seconds / 1e9);
            }
        }
        return best;
    }

    /** FMAs per chain of one {@link #fmaChunk} call. */
    private static final int CHUNK = 256;

    /**
     * iterations FMAs on each of 12 chains, as short calls of {@link #fmaChunk}: a method called a few times with
     * one long loop runs that loop in the interpreter, then in an on-stack-replacement compile whose vector
     * variables, entering from the interpreter, stay boxed (seconds of allocation per call); a short method called
     * often is compiled whole, its vectors in registers.
     */
    private static float fmaChains(long iterations) {
        float s = 0f;
        for (long i = 0; i < iterations; i += CHUNK) {
            s += fmaChunk();
        }
        return s;
    }

    private static float fmaChunk() {
        FloatVector m = FloatVector.broadcast(FS, 0.999999f);
        FloatVector c = FloatVector.broadcast(FS, 1e-7f);
        FloatVector a0 = FloatVector.broadcast(FS, 1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        FloatVector a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (int i = 0; i < CHUNK; i++) {
            a0 = a0.fma(m, c);
            a1 = a1.fma(m, c);
            a2 = a2.fma(m, c);
            a3 = a3.fma(m, c);
            a4 = a4.fma(m, c);
            a5 = a5.fma(m, c);
            a6 = a6.fma(m, c);
            a7 = a7.fma(m, c);
            a8 = a8.fma(m, c);
            a9 = a9.fma(m, c);
            a10 = a10.fma(m, c);
            a11 = a11.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }
}
