package ai.vl4j.sam;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.InvalidInputException;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The generator's pieces on small cases worked by hand or printed by the official code (segment-anything dca509f,
 * {@code utils/amg.py}): RLE, boxes, NMS, crops, point grids, small-region cleanup, option checks.
 */
class AmgPiecesTest {

    @Test
    void rleIsColumnMajorAndStartsWithZeros() {
        // 2×3, row-major:  0 1 1
        //                  1 1 0      column-major: 0 1 | 1 1 | 1 0  ->  runs 1 0s, 4 1s, 1 0
        boolean[] mask = {false, true, true, true, true, false};
        Rle rle = Rle.encode(mask, 2, 3);
        assertArrayEquals(new int[] {1, 4, 1}, rle.counts());
        assertEquals(4, rle.area());
        assertArrayEquals(mask, rle.decode());
        // a first pixel in the mask gives a leading 0-run
        assertArrayEquals(new int[] {0, 1, 5}, Rle.encode(new boolean[] {true, false, false, false, false, false}, 2, 3).counts());
        assertArrayEquals(new int[] {6}, Rle.encode(new boolean[6], 2, 3).counts());
    }

    @Test
    void rleOfAPlacedMaskEqualsTheRleOfThePaddedMask() {
        Random rnd = new Random(2);
        int h = 9, w = 7, mh = 4, mw = 3, x0 = 2, y0 = 5;
        boolean[] small = new boolean[mh * mw];
        for (int i = 0; i < small.length; i++) {
            small[i] = rnd.nextBoolean();
        }
        boolean[] full = new boolean[h * w];
        for (int y = 0; y < mh; y++) {
            for (int x = 0; x < mw; x++) {
                full[(y + y0) * w + x + x0] = small[y * mw + x];
            }
        }
        assertEquals(Rle.encode(full, h, w), Rle.encode(small, mh, mw, x0, y0, h, w));
        assertArrayEquals(full, Rle.encode(small, mh, mw, x0, y0, h, w).decode());
    }

    @Test
    void boxesAreInclusiveAndEmptyMasksGiveZeros() {
        boolean[] mask = new boolean[5 * 6];
        mask[1 * 6 + 2] = true;
        mask[3 * 6 + 4] = true;
        assertArrayEquals(new int[] {2, 1, 4, 3}, Boxes.ofMask(mask, 5, 6));
        assertArrayEquals(new int[] {2, 1, 2, 2}, Boxes.toXywh(new int[] {2, 1, 4, 3}));
        assertArrayEquals(new int[4], Boxes.ofMask(new boolean[30], 5, 6));
    }

    @Test
    void nmsKeepsByScoreAndDropsOverlapsAboveTheThreshold() {
        List<int[]> boxes = List.of(
                new int[] {0, 0, 10, 10},     // area 100
                new int[] {0, 0, 10, 5},      // IoU with 0: 50/100 = 0.5
                new int[] {20, 20, 30, 30},   // disjoint
                new int[] {0, 0, 10, 10});    // identical to 0, same score: the stable sort keeps 0
        float[] scores = {0.5f, 0.9f, 0.1f, 0.5f};
        assertArrayEquals(new int[] {1, 0, 2}, Boxes.nms(boxes, scores, 0.6));
        assertArrayEquals(new int[] {1, 2}, Boxes.nms(boxes, scores, 0.4));     // 0.5 > 0.4: box 1 drops 0 and 3
        assertArrayEquals(new int[] {1, 0, 3, 2}, Boxes.nms(boxes, scores, 1.0)); // nothing exceeds 1
        // two empty boxes: IoU 0/0 never suppresses
        assertArrayEquals(new int[] {0, 1}, Boxes.nms(List.of(new int[4], new int[4]), new float[] {1, 1}, 0.1));
    }

    @Test
    void boxesNearAnInnerCropEdgeAreDropped() {
        int[] image = {0, 0, 200, 100};
        int[] crop = {80, 0, 200, 100};       // left edge inside the image, the others on its border
        assertTrue(Boxes.nearCropEdge(new int[] {15, 30, 60, 50}, crop, image));   // x0 95: within 20 of 80
        assertFalse(Boxes.nearCropEdge(new int[] {25, 30, 60, 50}, crop, image));  // x0 105
        assertFalse(Boxes.nearCropEdge(new int[] {25, 0, 119, 99}, crop, image));  // touches only image edges
        assertFalse(Boxes.nearCropEdge(new int[] {0, 0, 199, 99}, image, image));  // the whole image is no crop
    }

    @Test
    void cropsAndGridsAreTheOfficialOnes() {
        // generate_crop_boxes((150, 97), 2, 512/1500) of the official code
        int[][] official = {{0, 0, 97, 150}, {0, 0, 65, 92}, {0, 59, 65, 150}, {32, 0, 97, 92}, {32, 59, 97, 150}, {0, 0, 37, 50},
                {0, 34, 37, 84}, {0, 68, 37, 118}, {0, 102, 37, 150}, {21, 0, 58, 50}, {21, 34, 58, 84}, {21, 68, 58, 118},
                {21, 102, 58, 150}, {42, 0, 79, 50}, {42, 34, 79, 84}, {42, 68, 79, 118}, {42, 102, 79, 150}, {63, 0, 97, 50},
                {63, 34, 97, 84}, {63, 68, 97, 118}, {63, 102, 97, 150}};
        List<CropLayers.Crop> crops = CropLayers.crops(150, 97, 2, 512 / 1500.0);
        assertEquals(official.length, crops.size());
        for (int i = 0; i < official.length; i++) {
            assertArrayEquals(official[i], crops.get(i).box(), "crop " + i);
            assertEquals(i == 0 ? 0 : i < 5 ? 1 : 2, crops.get(i).layer());
        }
        int[][] official2 = {{0, 0, 640, 480}, {0, 0, 392, 312}, {0, 168, 392, 480}, {248, 0, 640, 312}, {248, 168, 640, 480}};
        List<CropLayers.Crop> crops2 = CropLayers.crops(480, 640, 1, 0.3);
        for (int i = 0; i < official2.length; i++) {
            assertArrayEquals(official2[i], crops2.get(i).box());
        }
        // build_point_grid(3): row by row, x inner
        double[][] grid = CropLayers.grid(3);
        double a = 0.16666666666666666, b = 0.5, c = 0.8333333333333334;
        double[][] want = {{a, a}, {b, a}, {c, a}, {a, b}, {b, b}, {c, b}, {a, c}, {b, c}, {c, c}};
        for (int i = 0; i < want.length; i++) {
            assertArrayEquals(want[i], grid[i], 0.0, "grid point " + i);
        }
        // numpy's linspace values, bit for bit: build_point_grid(7)[:7, 0]
        double[] side7 = {0.07142857142857142, 0.2142857142857143, 0.3571428571428572, 0.5, 0.6428571428571429, 0.7857142857142858,
                0.9285714285714286};
        double[][] grid7 = CropLayers.grid(7);
        for (int i = 0; i < 7; i++) {
            assertEquals(side7[i], grid7[i][0], 0.0, "linspace " + i);
        }
        assertArrayEquals(new double[] {0.5, 0.5}, CropLayers.grid(1)[0], 0.0);
        // build_all_layer_point_grids(32, 2, 2) and (10, 2, 3): 32², 16², 8² and 10², 3², 1² points
        assertEquals(List.of(32, 16, 8), List.of(CropLayers.pointsPerSide(32, 2, 0), CropLayers.pointsPerSide(32, 2, 1), CropLayers.pointsPerSide(32, 2, 2)));
        assertEquals(List.of(10, 3, 1), List.of(CropLayers.pointsPerSide(10, 3, 0), CropLayers.pointsPerSide(10, 3, 1), CropLayers.pointsPerSide(10, 3, 2)));
    }

    @Test
    void smallHolesAreFilledAndSmallIslandsRemoved() {
        String[] rows = {
                "#####....#",
                "#.###.....",
                "#####.....",
                "......##..",
                "......##..",
        };
        int h = rows.length, w = rows[0].length();
        boolean[] mask = parse(rows);
        // holes: the 1-pixel hole at (1, 1) is filled; the rest of the background is one large component and stays
        boolean[] filled = SmallRegions.fillHoles(mask, h, w, 3);
        boolean[] want = mask.clone();
        want[1 * w + 1] = true;
        assertArrayEquals(want, filled);
        // islands below 3 pixels: the single pixel at (9, 0) goes; the 2×2 block (4 px) and the big one stay
        boolean[] cleaned = SmallRegions.removeIslands(filled, h, w, 3);
        want[9] = false;
        assertArrayEquals(want, cleaned);
        // nothing to change: the same array back
        assertSame(cleaned, SmallRegions.removeIslands(cleaned, h, w, 3));
        // every island small: the largest stays
        boolean[] only = SmallRegions.removeIslands(mask, h, w, 100);
        boolean[] largest = mask.clone();
        largest[9] = false;
        for (int y = 3; y < 5; y++) {
            for (int x = 6; x < 8; x++) {
                largest[y * w + x] = false;
            }
        }
        assertArrayEquals(largest, only);
    }

    private static boolean[] parse(String[] rows) {
        int w = rows[0].length();
        boolean[] out = new boolean[rows.length * w];
        for (int y = 0; y < rows.length; y++) {
            for (int x = 0; x < w; x++) {
                out[y * w + x] = rows[y].charAt(x) == '#';
            }
        }
        return out;
    }

    @Test
    void optionsNameTheBadValue() {
        AutomaticMaskGenerator.Options d = AutomaticMaskGenerator.Options.DEFAULTS;
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> new AutomaticMaskGenerator.Options(0, 64, 0.88, 0.95,
                1.0, 0.7, 0, 0.7, d.cropOverlapRatio(), 1, 0));
        assertEquals("points-per-side 0: must be at least 1", e.getMessage());
        e = assertThrows(InvalidInputException.class, () -> new AutomaticMaskGenerator.Options(32, 64, 0.88, 0.95, 1.0, 1.5, 0, 0.7,
                d.cropOverlapRatio(), 1, 0));
        assertEquals("box-nms-thresh 1.5: must be in [0, 1]", e.getMessage());
        assertEquals(32, d.pointsPerSide());
        assertEquals(512 / 1500.0, d.cropOverlapRatio());
    }
}
