package ai.vl4j.sam;

import java.util.Arrays;

/**
 * A binary mask as COCO's uncompressed run-length encoding, the form of the official generator's
 * {@code mask_to_rle_pytorch}: pixels in column-major (Fortran) order, alternating runs of 0s and 1s starting with
 * 0s (so counts[0] may be 0); {@code area} = the sum of the odd runs.
 *
 * @param height h
 * @param width  w
 * @param counts run lengths, summing to h·w
 */
public record Rle(int height, int width, int[] counts) {

    /** The RLE of a row-major mask [h·w]. */
    public static Rle encode(boolean[] mask, int height, int width) {
        return encode(mask, height, width, 0, 0, height, width);
    }

    /**
     * The RLE over a height×width image of a row-major mask [mh·mw] placed with its top-left pixel at (x0, y0),
     * zeros elsewhere (the official {@code uncrop_masks} then {@code mask_to_rle_pytorch}).
     */
    public static Rle encode(boolean[] mask, int mh, int mw, int x0, int y0, int height, int width) {
        int[] runs = new int[16];
        int n = 0;
        boolean current = false;
        int run = 0;
        for (int x = 0; x < width; x++) {
            int mx = x - x0;
            for (int y = 0; y < height; y++) {
                int my = y - y0;
                boolean v = mx >= 0 && mx < mw && my >= 0 && my < mh && mask[my * mw + mx];
                if (v != current) {
                    if (n == runs.length) {
                        runs = Arrays.copyOf(runs, 2 * n);
                    }
                    runs[n++] = run;
                    run = 0;
                    current = v;
                }
                run++;
            }
        }
        if (n == runs.length) {
            runs = Arrays.copyOf(runs, n + 1);
        }
        runs[n++] = run;
        return new Rle(height, width, Arrays.copyOf(runs, n));
    }

    /** The mask, row-major [h·w]. */
    public boolean[] decode() {
        boolean[] mask = new boolean[height * width];
        int i = 0;
        boolean v = false;
        for (int count : counts) {
            if (v) {
                for (int j = i; j < i + count; j++) {
                    mask[(j % height) * width + j / height] = true;
                }
            }
            i += count;
            v = !v;
        }
        return mask;
    }

    /** Pixels in the mask ({@code area_from_rle}). */
    public int area() {
        int area = 0;
        for (int i = 1; i < counts.length; i += 2) {
            area += counts[i];
        }
        return area;
    }

    /** Equal when the size and the runs are. */
    @Override
    public boolean equals(Object o) {
        return o instanceof Rle r && r.height == height && r.width == width && Arrays.equals(r.counts, counts);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * height + width) + Arrays.hashCode(counts);
    }

    @Override
    public String toString() {
        return "Rle[" + height + "×" + width + ", counts=" + Arrays.toString(counts) + "]";
    }
}
