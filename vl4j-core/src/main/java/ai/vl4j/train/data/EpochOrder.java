package ai.vl4j.train.data;

/**
 * The order one source's samples are drawn in: epoch after epoch, each a permutation of 0..size-1 seeded by
 * (seed, stream, epoch), or file order when not shuffling. The k-th draw is sample {@code at(k)}, with epoch
 * k / size and position k % size: a count of draws is the whole state.
 */
final class EpochOrder {
    private final int size;
    private final boolean shuffle;
    private final long seed;
    private final long stream;
    private long epoch = -1;
    private int[] permutation;     // of the cached epoch

    EpochOrder(int size, boolean shuffle, long seed, long stream) {
        this.size = size;
        this.shuffle = shuffle;
        this.seed = seed;
        this.stream = stream;
    }

    /** The sample index of draw k (k = 0, 1, ...). */
    int at(long k) {
        long e = k / size;
        int position = (int) (k % size);
        if (!shuffle) {
            return position;
        }
        if (e != epoch) {
            permutation = SplitMix.permutation(SplitMix.state(seed, stream, e), size);
            epoch = e;
        }
        return permutation[position];
    }
}
