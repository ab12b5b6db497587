package ai.vl4j.train.data;

/**
 * Counter-based random numbers: the i-th output of SplitMix64 (Steele, Lea and Flood, "Fast splittable
 * pseudorandom number generators", OOPSLA 2014; the generator of {@code java.util.SplittableRandom}) from a
 * state derived from (seed, stream, epoch). Being a function of its counter, a generator's whole state is
 * the number of values drawn, so saving a position saves the random state, and the sequence is the same
 * on every JVM (it is written out here rather than taken from a JDK class whose algorithm may change).
 */
final class SplitMix {
    private static final long GOLDEN = 0x9e3779b97f4a7c15L;

    private SplitMix() {
    }

    /** SplitMix64's output function (Stafford's Mix13). */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** The starting state of an independent sequence for (seed, stream, epoch). */
    static long state(long seed, long stream, long epoch) {
        return mix64(mix64(mix64(seed) + stream * GOLDEN) + epoch * GOLDEN);
    }

    /** The i-th 64-bit output (i = 0, 1, ...) of SplitMix64 started at state. */
    static long nth(long state, long i) {
        return mix64(state + (i + 1) * GOLDEN);
    }

    /** The i-th output as a double uniform in [0, 1) (its top 53 bits). */
    static double uniform(long state, long i) {
        return (nth(state, i) >>> 11) * 0x1.0p-53;
    }

    /** The i-th output as an int in [0, bound): the high word of output × bound (Lemire's multiply-shift). */
    static int below(long state, long i, int bound) {
        return (int) Math.unsignedMultiplyHigh(nth(state, i), bound);
    }

    /** A permutation of 0..n-1: Fisher-Yates (Durstenfeld) with the sequence of state. */
    static int[] permutation(long state, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = below(state, n - 1 - i, i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
