package ai.vl4j.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The vision features of images, by file (path, size and modification time) and part, least recently used dropped
 * beyond a byte budget. Only for a frozen tower (or a frozen part of one, SAM-B beside a SigLIP that trains): its
 * features of an image never change.
 */
final class FeatureCache {
    private record Key(Path path, long size, long modified, String part) {
    }

    private final long budget;
    private final Map<Key, float[][]> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;

    FeatureCache(long budget) {
        this.budget = budget;
    }

    /** The features part (e.g. "tower", "sam") of image, computed on a miss. */
    float[][] get(Path image, String part, Supplier<float[][]> compute) {
        if (budget <= 0) {
            return compute.get();
        }
        Key key;
        try {
            BasicFileAttributes a = Files.readAttributes(image, BasicFileAttributes.class);
            key = new Key(image.toAbsolutePath().normalize(), a.size(), a.lastModifiedTime().toMillis(), part);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        float[][] hit = entries.get(key);
        if (hit != null) {
            return hit;
        }
        float[][] f = compute.get();
        long size = 0;
        for (float[] m : f) {
            size += 4L * m.length;
        }
        if (size <= budget) {
            entries.put(key, f);
            bytes += size;
            for (Iterator<Map.Entry<Key, float[][]>> it = entries.entrySet().iterator(); bytes > budget && it.hasNext(); ) {
                float[][] old = it.next().getValue();
                it.remove();
                for (float[] m : old) {
                    bytes -= 4L * m.length;
                }
            }
        }
        return f;
    }
}
