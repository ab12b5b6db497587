package ai.vl4j.tensor;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One fixed pool of worker threads shared by every kernel. Work is a range of indices cut into chunks that
 * threads take from a shared counter, so a thread that lost its core to another process simply takes fewer
 * chunks; waiting is blocking (a latch), never spinning. The calling thread works too.
 */
public final class Parallel {

    /** Body of a parallel loop: handles indices [start, end). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    /** How long the calling thread waits actively for the helpers' last chunks before blocking. */
    private static final long TAIL_SPIN_NANOS = 50_000;
    private static final ThreadLocal<Boolean> IS_WORKER = ThreadLocal.withInitial(() -> false);
    private static volatile int threads = Runtime.getRuntime().availableProcessors();
    private static ExecutorService pool;

    private Parallel() {
    }

    /** Sets the number of threads kernels use (the caller included). Takes effect for the next loop. */
    public static synchronized void setThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + n);
        }
        if (n != threads && pool != null) {
            pool.shutdown();
            pool = null;
        }
        threads = n;
    }

    public static int threads() {
        return threads;
    }

    private static synchronized ExecutorService pool() {
        if (pool == null) {
            AtomicInteger id = new AtomicInteger();
            pool = Executors.newFixedThreadPool(Math.max(1, threads - 1), r -> {
                Thread t = new Thread(() -> {
                    IS_WORKER.set(true);
                    r.run();
                }, "vl4j-worker-" + id.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }
        return pool;
    }

    /**
     * Runs body over [start, end) in chunks of at least grain indices. Nested calls (from inside a worker)
     * run inline, so kernels may call each other freely.
     */
    public static void forRange(int start, int end, int grain, RangeBody body) {
        int n = end - start;
        if (n <= 0) {
            return;
        }
        int t = threads;
        grain = Math.max(1, grain);
        if (t == 1 || n <= grain || IS_WORKER.get()) {
            body.run(start, end);
            return;
        }
        // A few chunks per thread balance uneven progress without much scheduling overhead.
        int chunks = Math.min((n + grain - 1) / grain, t * 4);
        run(start, end, (n + chunks - 1) / chunks, body);
    }

    /**
     * As {@link #forRange}, each index a chunk of its own: for loops over a few large units of equal work (the
     * GEMM's panels of weight rows). forRange's 4 chunks per thread would leave one thread up to a whole chunk
     * behind at the end (43 panels in chunks of 6: 24 panels for one thread, 19 for the other).
     */
    public static void forEachIndex(int start, int end, RangeBody body) {
        int n = end - start;
        if (n <= 0) {
            return;
        }
        if (threads == 1 || n == 1 || IS_WORKER.get()) {
            body.run(start, end);
            return;
        }
        run(start, end, 1, body);
    }

    /** Chunks of chunkSize indices taken from a shared counter by the caller and up to threads − 1 helpers. */
    private static void run(int start, int end, int chunkSize, RangeBody body) {
        int n = end - start;
        int t = threads;
        int nChunks = (n + chunkSize - 1) / chunkSize;
        AtomicInteger next = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            int c;
            while (failure.get() == null && (c = next.getAndIncrement()) < nChunks) {
                int lo = start + c * chunkSize;
                int hi = Math.min(end, lo + chunkSize);
                try {
                    body.run(lo, hi);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }
        };
        int helpers = Math.min(t - 1, nChunks - 1);
        CountDownLatch done = new CountDownLatch(helpers);
        ExecutorService p = pool();
        for (int i = 0; i < helpers; i++) {
            p.execute(() -> {
                try {
                    worker.run();
                } finally {
                    done.countDown();
                }
            });
        }
        boolean wasWorker = IS_WORKER.get();
        IS_WORKER.set(true); // the caller's own chunks must not fan out again
        try {
            worker.run();
        } finally {
            IS_WORKER.set(wasWorker);
        }
        try {
            // The helpers are usually finishing their last chunk by now. Sleeping on the latch would add the
            // wake-up latency of this thread (tens of microseconds on a VM) to every parallel loop, so wait
            // actively for a short, bounded time first; the helpers themselves never spin.
            long spinUntil = System.nanoTime() + TAIL_SPIN_NANOS;
            while (done.getCount() > 0 && System.nanoTime() < spinUntil) {
                Thread.onSpinWait();
            }
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for worker threads", e);
        }
        Throwable e = failure.get();
        if (e instanceof RuntimeException re) {
            throw re;
        } else if (e instanceof Error err) {
            throw err;
        } else if (e != null) {
            throw new IllegalStateException(e);
        }
    }
}
