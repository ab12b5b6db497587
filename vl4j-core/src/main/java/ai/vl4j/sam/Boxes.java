package ai.vl4j.sam;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The box arithmetic of the automatic mask generator: a mask's bounding box ({@code batched_mask_to_box}),
 * torchvision's {@code nms} and {@code is_box_near_crop_edge}. Boxes are x0, y0, x1, y1 with inclusive pixel
 * indices (an empty mask has [0, 0, 0, 0]); NMS treats them as float corners, area (x1 − x0)·(y1 − y0), as the
 * official code hands them to torchvision.
 */
public final class Boxes {
    private Boxes() {
    }

    /** [min x, min y, max x, max y] of the set pixels of a row-major mask [h·w], or [0, 0, 0, 0] when empty. */
    public static int[] ofMask(boolean[] mask, int height, int width) {
        int x0 = width, y0 = height, x1 = -1, y1 = -1;
        for (int y = 0; y < height; y++) {
            int row = y * width;
            for (int x = 0; x < width; x++) {
                if (mask[row + x]) {
                    x0 = Math.min(x0, x);
                    x1 = Math.max(x1, x);
                    y0 = Math.min(y0, y);
                    y1 = y;
                }
            }
        }
        return x1 < 0 ? new int[4] : new int[] {x0, y0, x1, y1};
    }

    /** [x, y, w, h] = [x0, y0, x1 − x0, y1 − y0] ({@code box_xyxy_to_xywh}). */
    public static int[] toXywh(int[] box) {
        return new int[] {box[0], box[1], box[2] - box[0], box[3] - box[1]};
    }

    /**
     * torchvision's {@code nms}: indices of the kept boxes, by descending score (ties in index order: a stable
     * sort); a box is dropped when its IoU (float32) with a kept, higher-scored box exceeds threshold.
     */
    public static int[] nms(List<int[]> boxes, float[] scores, double threshold) {
        int n = boxes.size();
        float[] area = new float[n];
        for (int i = 0; i < n; i++) {
            int[] b = boxes.get(i);
            area[i] = ((float) b[2] - b[0]) * ((float) b[3] - b[1]);
        }
        Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
        java.util.Arrays.sort(order, Comparator.comparingDouble((Integer i) -> scores[i]).reversed());
        boolean[] suppressed = new boolean[n];
        List<Integer> keep = new ArrayList<>();
        for (int a = 0; a < n; a++) {
            int i = order[a];
            if (suppressed[i]) {
                continue;
            }
            keep.add(i);
            int[] bi = boxes.get(i);
            for (int b = a + 1; b < n; b++) {
                int j = order[b];
                if (suppressed[j]) {
                    continue;
                }
                int[] bj = boxes.get(j);
                float w = Math.max(0f, (float) Math.min(bi[2], bj[2]) - Math.max(bi[0], bj[0]));
                float h = Math.max(0f, (float) Math.min(bi[3], bj[3]) - Math.max(bi[1], bj[1]));
                float inter = w * h;
                float iou = inter / (area[i] + area[j] - inter);
                if (iou > threshold) {                 // NaN (two empty boxes) never suppresses
                    suppressed[j] = true;
                }
            }
        }
        return keep.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * {@code is_box_near_crop_edge}: a box (in crop coordinates) lies within 20 px of an edge of its crop that is not
     * an edge of the image. crop and image are x0, y0, x1, y1.
     */
    public static boolean nearCropEdge(int[] box, int[] crop, int[] image) {
        for (int i = 0; i < 4; i++) {
            float v = box[i] + crop[i % 2];             // uncropped
            boolean nearCrop = Math.abs(v - crop[i]) <= 20f;
            boolean nearImage = Math.abs(v - image[i]) <= 20f;
            if (nearCrop && !nearImage) {
                return true;
            }
        }
        return false;
    }
}
