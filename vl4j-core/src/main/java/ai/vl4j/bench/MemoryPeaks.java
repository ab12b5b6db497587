package ai.vl4j.bench;

import com.sun.management.GarbageCollectionNotificationInfo;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.management.ListenerNotFoundException;
import javax.management.Notification;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;

/**
 * The peaks of the process's memory over a stretch of work, measured, from {@link #start()} to {@link #close()}:
 * <ul>
 *   <li>heap: the sum of the heap pools' peak use (what the collector let fill up, garbage included: with a large
 *       {@code -Xmx} it grows towards it);</li>
 *   <li>heap after GC: the most the heap held right after a collection (what was live then, plus old garbage a
 *       young collection left): the heap a run needs, within what the collector keeps of its own;</li>
 *   <li>RSS: the resident set's high-water mark ({@code VmHWM}), which Linux resets on request
 *       ({@code /proc/self/clear_refs}); it counts the memory-mapped weights that were read.</li>
 * </ul>
 */
public final class MemoryPeaks implements AutoCloseable {
    private final List<NotificationEmitter> emitters = new ArrayList<>();
    private final NotificationListener listener = this::collected;
    private final boolean rssReset;
    private volatile long afterGc;

    private MemoryPeaks() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage();
        }
        rssReset = resetRss();
        afterGc = heapUsed();
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc instanceof NotificationEmitter emitter) {
                emitter.addNotificationListener(listener, null, null);
                emitters.add(emitter);
            }
        }
    }

    /** Collects garbage, then starts measuring from what is left. */
    public static MemoryPeaks start() {
        System.gc();
        return new MemoryPeaks();
    }

    /** Peak heap use, garbage included (the sum of the heap pools' peaks). */
    public long heapBytes() {
        return PipelineBenchmark.peakHeap();
    }

    /** The most the heap held right after a collection (or at the start, if nothing was collected). */
    public long heapAfterGcBytes() {
        return afterGc;
    }

    /** Peak resident set since the start (since the process began where Linux could not reset it), or -1. */
    public long rssBytes() {
        return PipelineBenchmark.peakRss();
    }

    /** Whether {@link #rssBytes()} is this stretch's own peak rather than the process's. */
    public boolean rssIsOwn() {
        return rssReset;
    }

    @Override
    public void close() {
        for (NotificationEmitter emitter : emitters) {
            try {
                emitter.removeNotificationListener(listener);
            } catch (ListenerNotFoundException e) {
                // already gone
            }
        }
    }

    private void collected(Notification n, Object handback) {
        if (!GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) {
            return;
        }
        GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
        long sum = 0;
        for (Map.Entry<String, MemoryUsage> pool : info.getGcInfo().getMemoryUsageAfterGc().entrySet()) {
            if (isHeap(pool.getKey())) {
                sum += pool.getValue().getUsed();
            }
        }
        synchronized (this) {
            afterGc = Math.max(afterGc, sum);
        }
    }

    private static boolean isHeap(String poolName) {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getName().equals(poolName)) {
                return pool.getType() == MemoryType.HEAP;
            }
        }
        return false;
    }

    private static long heapUsed() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** Linux: writing 5 to clear_refs resets VmHWM to the current RSS. */
    private static boolean resetRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
