package ai.vl4j.sam;

import java.util.ArrayList;
import java.util.List;

/**
 * Where the automatic generator looks, spec SAM §6 steps 1–2 (official {@code generate_crop_boxes},
 * {@code build_all_layer_point_grids}): layer 0 is the whole image; layer i splits it into 2^i × 2^i overlapping
 * crops; each layer has its own point grid in [0, 1]², scaled to each of its crops.
 */
public final class CropLayers {
    private CropLayers() {
    }

    /** A crop box x0, y0, x1, y1 (exclusive ends) and its layer. */
    public record Crop(int[] box, int layer) {
        public int width() {
            return box[2] - box[0];
        }

        public int height() {
            return box[3] - box[1];
        }
    }

    /** The crops of layers 0..n, in the official order (per layer x-major: all y for the first x0, …). */
    public static List<Crop> crops(int height, int width, int layers, double overlapRatio) {
        List<Crop> out = new ArrayList<>();
        out.add(new Crop(new int[] {0, 0, width, height}, 0));
        int shortSide = Math.min(height, width);
        for (int layer = 1; layer <= layers; layer++) {
            int perSide = 1 << layer;
            int overlap = (int) (overlapRatio * shortSide * (2.0 / perSide));
            int cropW = cropLength(width, perSide, overlap);
            int cropH = cropLength(height, perSide, overlap);
            for (int i = 0; i < perSide; i++) {
                int x0 = (cropW - overlap) * i;
                for (int j = 0; j < perSide; j++) {
                    int y0 = (cropH - overlap) * j;
                    out.add(new Crop(new int[] {x0, y0, Math.min(x0 + cropW, width), Math.min(y0 + cropH, height)}, layer));
                }
            }
        }
        return out;
    }

    private static int cropLength(int length, int crops, int overlap) {
        return (int) Math.ceil((double) (overlap * (crops - 1) + length) / crops);
    }

    /** Points per side of layer i: int(n / factor^i). */
    public static int pointsPerSide(int pointsPerSide, int downscaleFactor, int layer) {
        return (int) (pointsPerSide / Math.pow(downscaleFactor, layer));
    }

    /**
     * An n×n grid of cell centres in [0, 1]², [n·n][x, y], row by row (y outer, x inner): numpy's
     * {@code linspace(1/(2n), 1 − 1/(2n), n)} on each axis.
     */
    public static double[][] grid(int n) {
        double offset = 1.0 / (2 * n);
        double[] side = new double[n];
        double step = (1 - offset - offset) / (n - 1);
        for (int i = 0; i < n; i++) {
            side[i] = n == 1 ? offset : i * step + offset;     // linspace: i·step + start, then the end set exactly
        }
        if (n > 1) {
            side[n - 1] = 1 - offset;
        }
        double[][] points = new double[n * n][];
        for (int y = 0; y < n; y++) {
            for (int x = 0; x < n; x++) {
                points[y * n + x] = new double[] {side[x], side[y]};
            }
        }
        return points;
    }
}
