package ai.vl4j.sam;

import java.util.ArrayDeque;

/**
 * The generator's optional cleanup (official {@code remove_small_regions}, OpenCV's 8-connected components):
 * holes smaller than the area threshold are filled, then islands smaller than it are removed (the largest is kept
 * when all are small).
 */
public final class SmallRegions {
    private SmallRegions() {
    }

    /** The cleaned mask, or the same array when nothing changed. */
    public static boolean[] fillHoles(boolean[] mask, int height, int width, int minArea) {
        return clean(mask, height, width, minArea, true);
    }

    public static boolean[] removeIslands(boolean[] mask, int height, int width, int minArea) {
        return clean(mask, height, width, minArea, false);
    }

    /**
     * holes: components of the background smaller than minArea join the mask; islands: components of the mask
     * smaller than minArea leave it (if all do, the first largest, in raster order of first pixels, stays).
     */
    private static boolean[] clean(boolean[] mask, int height, int width, int minArea, boolean holes) {
        int[] labels = new int[mask.length];        // 0: not part of the working mask; components from 1
        int[] sizes = new int[mask.length + 1];
        int count = 0;
        ArrayDeque<Integer> queue = new ArrayDeque<>();
        for (int start = 0; start < mask.length; start++) {
            if (mask[start] == holes || labels[start] != 0) {
                continue;
            }
            int label = ++count;
            labels[start] = label;
            queue.add(start);
            while (!queue.isEmpty()) {
                int p = queue.poll();
                sizes[label]++;
                int py = p / width;
                int px = p % width;
                for (int dy = -1; dy <= 1; dy++) {
                    for (int dx = -1; dx <= 1; dx++) {
                        int y = py + dy;
                        int x = px + dx;
                        if (y >= 0 && y < height && x >= 0 && x < width) {
                            int q = y * width + x;
                            if (mask[q] != holes && labels[q] == 0) {
                                labels[q] = label;
                                queue.add(q);
                            }
                        }
                    }
                }
            }
        }
        boolean anySmall = false;
        int largest = 0;
        for (int l = 1; l <= count; l++) {
            anySmall |= sizes[l] < minArea;
            if (largest == 0 || sizes[l] > sizes[largest]) {
                largest = l;
            }
        }
        if (!anySmall) {
            return mask;
        }
        boolean allSmall = true;
        for (int l = 1; l <= count; l++) {
            allSmall &= sizes[l] < minArea;
        }
        boolean[] out = new boolean[mask.length];
        for (int i = 0; i < mask.length; i++) {
            int l = labels[i];
            if (holes) {
                out[i] = l == 0 || sizes[l] < minArea;       // the mask itself, plus the small holes
            } else {
                out[i] = l != 0 && (allSmall ? l == largest : sizes[l] >= minArea);
            }
        }
        return out;
    }
}
