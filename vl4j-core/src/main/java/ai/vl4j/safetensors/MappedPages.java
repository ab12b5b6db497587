package ai.vl4j.safetensors;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Gives back the resident pages of part of a read-only file mapping (Linux {@code madvise(MADV_DONTNEED)}): they
 * leave this process's resident set and stay in the page cache, so a later read faults them back in from memory.
 * Used once a weight has been copied into another layout and the mapping is no longer read in the hot path.
 * Best effort: elsewhere (no madvise, no native access) it does nothing.
 */
final class MappedPages {
    private static final int MADV_DONTNEED = 4;
    private static final long PAGE = 4096;
    private static final MethodHandle MADVISE = find();

    private MappedPages() {
    }

    private static MethodHandle find() {
        if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            return null;
        }
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("madvise").map(addr -> linker.downcallHandle(addr,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT)))
                    .orElse(null);
        } catch (RuntimeException e) {   // IllegalCallerException without native access
            return null;
        }
    }

    /** Releases the whole pages inside segment (a slice of a read-only file mapping; never anonymous memory). */
    static void release(MemorySegment segment) {
        if (MADVISE == null || !segment.isNative()) {
            return;
        }
        long start = (segment.address() + PAGE - 1) & -PAGE;
        long end = (segment.address() + segment.byteSize()) & -PAGE;
        if (end <= start) {
            return;
        }
        try {
            int ignored = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), end - start, MADV_DONTNEED);
        } catch (Throwable e) {
            // best effort: the pages simply stay resident
        }
    }
}
