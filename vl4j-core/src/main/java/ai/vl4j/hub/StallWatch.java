package ai.vl4j.hub;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Closes a download's input stream when no bytes have arrived for a while. HttpClient has no read timeout for
 * a response body: without this, a connection that goes quiet (a stalled proxy, a half-dead link) would block
 * the download forever instead of being resumed.
 */
final class StallWatch implements AutoCloseable {
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "vl4j-download-watch");
        t.setDaemon(true);
        return t;
    });

    private final InputStream in;
    private final long timeoutNanos;
    private final ScheduledFuture<?> check;
    private volatile long lastProgress = System.nanoTime();
    private volatile boolean stalled;

    StallWatch(InputStream in, Duration timeout) {
        this.in = in;
        this.timeoutNanos = timeout.toNanos();
        long period = Math.max(10, timeout.toMillis() / 4);
        this.check = TIMER.scheduleAtFixedRate(this::check, period, period, TimeUnit.MILLISECONDS);
    }

    /** Bytes arrived. */
    void progressed() {
        lastProgress = System.nanoTime();
    }

    /** True when the stream was closed for going quiet. */
    boolean stalled() {
        return stalled;
    }

    private void check() {
        if (!stalled && System.nanoTime() - lastProgress > timeoutNanos) {
            stalled = true;
            try {
                in.close();   // unblocks the reader
            } catch (IOException ignored) {
                // the reader learns of the stall from stalled()
            }
        }
    }

    @Override
    public void close() {
        check.cancel(false);
    }
}
