package ai.vl4j.sam;

import ai.vl4j.InvalidInputException;
import ai.vl4j.image.RgbImage;
import java.util.ArrayList;
import java.util.List;

/**
 * SAM's automatic mask generator (official {@code SamAutomaticMaskGenerator}, output_mode uncompressed_rle),
 * spec SAM §6. For each crop (layer 0: the whole image): encode the crop, prompt it with a grid of single
 * foreground points in batches (three masks each), then per mask
 * <pre>
 *   keep iou > pred_iou_thresh                     (only when the threshold is > 0)
 *   stability = #(logit > offset) / #(logit > −offset);  keep stability ≥ stability_score_thresh   (only when > 0)
 *   mask = logit > 0;  box = inclusive bounding box;  drop boxes within 20 px of a crop edge inside the image
 * </pre>
 * then box NMS by predicted IoU within the crop, and across crops NMS preferring larger crops (score 1/area);
 * optionally small holes and islands are cleaned up and NMS runs once more. Masks are upscaled only when they
 * pass the IoU filter, and kept as RLE: the records equal the official ones, in the same order.
 */
public final class AutomaticMaskGenerator {
    private final SamPredictor predictor;
    private final Options options;

    /**
     * The generator's parameters, with the official defaults in {@link #DEFAULTS}.
     *
     * @param pointsPerSide              grid points per side of the whole image (32)
     * @param pointsPerBatch             prompts decoded together (64)
     * @param predIouThresh              keep masks whose predicted IoU exceeds this (0.88; ≤ 0: no filter)
     * @param stabilityScoreThresh       keep masks at least this stable (0.95; ≤ 0: no filter)
     * @param stabilityScoreOffset       the logit offset of the stability score (1.0)
     * @param boxNmsThresh               IoU above which NMS drops a box within a crop (0.7)
     * @param cropNLayers                crop layers beyond the whole image (0)
     * @param cropNmsThresh              IoU above which NMS drops a box across crops (0.7)
     * @param cropOverlapRatio           overlap of neighbouring crops, as a fraction of the short side (512/1500)
     * @param cropNPointsDownscaleFactor grid points per side are divided by this per layer (1)
     * @param minMaskRegionArea          fill holes and remove islands smaller than this (0: off)
     */
    public record Options(int pointsPerSide, int pointsPerBatch, double predIouThresh, double stabilityScoreThresh,
                          double stabilityScoreOffset, double boxNmsThresh, int cropNLayers, double cropNmsThresh,
                          double cropOverlapRatio, int cropNPointsDownscaleFactor, int minMaskRegionArea) {
        public static final Options DEFAULTS = new Options(32, 64, 0.88, 0.95, 1.0, 0.7, 0, 0.7, 512 / 1500.0, 1, 0);

        /** Checks the values, naming the option (as the CLI flag) and the value. */
        public Options {
            require(pointsPerSide >= 1, "points-per-side", pointsPerSide, "must be at least 1");
            require(pointsPerBatch >= 1, "points-per-batch", pointsPerBatch, "must be at least 1");
            require(cropNLayers >= 0, "crop-n-layers", cropNLayers, "must be 0 or more");
            require(cropNPointsDownscaleFactor >= 1, "crop-n-points-downscale-factor", cropNPointsDownscaleFactor, "must be at least 1");
            require(CropLayers.pointsPerSide(pointsPerSide, cropNPointsDownscaleFactor, cropNLayers) >= 1, "points-per-side",
                    pointsPerSide, "leaves no points in crop layer " + cropNLayers + " (divided by "
                            + cropNPointsDownscaleFactor + " per layer)");
            require(Double.isFinite(predIouThresh), "pred-iou-thresh", predIouThresh, "must be a number");
            require(Double.isFinite(stabilityScoreThresh), "stability-score-thresh", stabilityScoreThresh, "must be a number");
            require(Double.isFinite(stabilityScoreOffset) && stabilityScoreOffset >= 0, "stability-score-offset",
                    stabilityScoreOffset, "must be 0 or more");
            require(boxNmsThresh >= 0 && boxNmsThresh <= 1, "box-nms-thresh", boxNmsThresh, "must be in [0, 1]");
            require(cropNmsThresh >= 0 && cropNmsThresh <= 1, "crop-nms-thresh", cropNmsThresh, "must be in [0, 1]");
            require(cropOverlapRatio >= 0 && cropOverlapRatio < 1, "crop-overlap-ratio", cropOverlapRatio, "must be in [0, 1)");
            require(minMaskRegionArea >= 0, "min-mask-region-area", minMaskRegionArea, "must be 0 or more");
        }

        private static void require(boolean ok, String name, double value, String problem) {
            if (!ok) {
                throw new InvalidInputException(name + " " + SamPredictor.num(value) + ": " + problem);
            }
        }
    }

    /**
     * One mask of the output ({@code generate}'s annotation).
     *
     * @param rle            the mask over the whole image
     * @param area           its pixels
     * @param bboxXywh       inclusive box as x, y, w = x1 − x0, h = y1 − y0
     * @param predictedIou   the decoder's IoU prediction
     * @param stabilityScore the stability score
     * @param pointCoords    the grid point that prompted it, x, y in image pixels
     * @param cropBoxXywh    its crop, x, y, w, h
     * @param lowResLogits   the low-res logits [s·s] of its prediction, in the frame of its crop
     */
    public record MaskRecord(Rle rle, int area, int[] bboxXywh, float predictedIou, float stabilityScore, double[] pointCoords,
                             int[] cropBoxXywh, float[] lowResLogits) {
    }

    /**
     * Progress of a run: each crop's image encoding as it starts and ends, and each batch of prompts as it is
     * decoded (points done of the crop's points), with its raw IoU predictions (3 per point).
     */
    public interface Listener {
        void batch(int crop, int crops, int pointsDone, int points, float[] iouPredictions);

        /** A crop's image encoding starts (the longest single step: seconds for SAM-B on a few cores). */
        default void encoding(int crop, int crops) {
        }

        /** A crop's image was encoded, taking this many seconds. */
        default void encoded(int crop, double seconds) {
        }

        Listener NONE = (crop, crops, done, total, iou) -> { };
    }

    /** A mask that passed the per-mask filters; box and point in its crop's frame until the crop is done. */
    private record Candidate(int[] box, float iou, float stability, double[] point, Rle rle, float[] lowRes, int[] crop) {
    }

    public AutomaticMaskGenerator(Sam sam, Options options) {
        this.predictor = new SamPredictor(sam);
        this.options = options;
    }

    public List<MaskRecord> generate(RgbImage image) {
        return generate(image, Listener.NONE);
    }

    public List<MaskRecord> generate(RgbImage image, Listener listener) {
        int h = image.height();
        int w = image.width();
        List<CropLayers.Crop> crops = CropLayers.crops(h, w, options.cropNLayers(), options.cropOverlapRatio());
        List<Candidate> all = new ArrayList<>();
        for (int i = 0; i < crops.size(); i++) {
            all.addAll(processCrop(image, crops.get(i), i, crops.size(), listener));
        }
        if (crops.size() > 1) {
            // prefer masks from larger crops: score 1/area of the crop box
            float[] scores = new float[all.size()];
            for (int i = 0; i < scores.length; i++) {
                int[] c = all.get(i).crop();
                scores[i] = 1f / ((float) (c[2] - c[0]) * (c[3] - c[1]));
            }
            all = select(all, Boxes.nms(all.stream().map(Candidate::box).toList(), scores, options.cropNmsThresh()));
        }
        if (options.minMaskRegionArea() > 0) {
            all = removeSmallRegions(all, h, w);
        }
        List<MaskRecord> records = new ArrayList<>();
        for (Candidate c : all) {
            int[] crop = c.crop();
            records.add(new MaskRecord(c.rle(), c.rle().area(), Boxes.toXywh(c.box()), c.iou(), c.stability(), c.point(),
                    new int[] {crop[0], crop[1], crop[2] - crop[0], crop[3] - crop[1]}, c.lowRes()));
        }
        return records;
    }

    /** One crop: encode it, prompt its grid in batches, filter, NMS; boxes and points returned in image pixels. */
    private List<Candidate> processCrop(RgbImage image, CropLayers.Crop crop, int index, int crops, Listener listener) {
        int[] box = crop.box();
        int ch = crop.height();
        int cw = crop.width();
        listener.encoding(index, crops);
        long t0 = System.nanoTime();
        predictor.setImage(cropOf(image, box));
        listener.encoded(index, (System.nanoTime() - t0) / 1e9);
        int[] input = predictor.inputSize();
        double[][] grid = CropLayers.grid(CropLayers.pointsPerSide(options.pointsPerSide(), options.cropNPointsDownscaleFactor(),
                crop.layer()));
        int c = predictor.model().config().prompt().hiddenSize();
        PromptEncoder encoder = predictor.model().promptEncoder();
        int[] imageBox = {0, 0, image.width(), image.height()};
        List<Candidate> kept = new ArrayList<>();
        for (int start = 0; start < grid.length; start += options.pointsPerBatch()) {
            int batch = Math.min(options.pointsPerBatch(), grid.length - start);
            double[][] points = new double[batch][];
            float[] sparse = new float[batch * 2 * c];           // one point and the padding point per prompt
            for (int b = 0; b < batch; b++) {
                double[] g = grid[start + b];
                points[b] = new double[] {g[0] * cw, g[1] * ch};
                double[] coords = {points[b][0] * ((double) input[1] / cw), points[b][1] * ((double) input[0] / ch)};
                System.arraycopy(encoder.sparse(coords, new int[] {1}, null), 0, sparse, b * 2 * c, 2 * c);
            }
            MaskDecoder.Output out = predictor.decode(sparse, batch, 2, null, true);
            listener.batch(index, crops, start + batch, grid.length, out.iou());
            for (int b = 0; b < batch; b++) {
                for (int k = 0; k < out.masks(); k++) {
                    Candidate candidate = filter(out, b * out.masks() + k, points[b], input, ch, cw, box, imageBox);
                    if (candidate != null) {
                        kept.add(candidate);
                    }
                }
            }
        }
        float[] scores = new float[kept.size()];
        for (int i = 0; i < scores.length; i++) {
            scores[i] = kept.get(i).iou();
        }
        List<Candidate> survivors = select(kept, Boxes.nms(kept.stream().map(Candidate::box).toList(), scores, options.boxNmsThresh()));
        List<Candidate> uncropped = new ArrayList<>();
        for (Candidate k : survivors) {
            int[] b = k.box();
            uncropped.add(new Candidate(new int[] {b[0] + box[0], b[1] + box[1], b[2] + box[0], b[3] + box[1]}, k.iou(), k.stability(),
                    new double[] {k.point()[0] + box[0], k.point()[1] + box[1]}, k.rle(), k.lowRes(), box));
        }
        return uncropped;
    }

    /** The per-mask filters of {@code _process_batch}; null when the mask is dropped. */
    private Candidate filter(MaskDecoder.Output out, int m, double[] point, int[] input, int ch, int cw, int[] crop, int[] image) {
        float iou = out.iou()[m];
        // float32 comparisons, as torch compares a float tensor with a Python number
        if (options.predIouThresh() > 0 && !(iou > (float) options.predIouThresh())) {
            return null;
        }
        int s = out.side();
        float[] lowRes = new float[s * s];
        System.arraycopy(out.lowRes(), m * s * s, lowRes, 0, s * s);
        float[] logits = SamTransforms.upscale(lowRes, s, predictor.model().imageSize(), input[0], input[1], ch, cw);
        float offset = (float) options.stabilityScoreOffset();
        int intersection = 0;
        int union = 0;
        boolean[] mask = new boolean[logits.length];
        for (int i = 0; i < logits.length; i++) {
            float v = logits[i];
            intersection += v > Prediction.MASK_THRESHOLD + offset ? 1 : 0;
            union += v > Prediction.MASK_THRESHOLD - offset ? 1 : 0;
            mask[i] = v > Prediction.MASK_THRESHOLD;
        }
        float stability = (float) intersection / (float) union;            // 0/0 = NaN: fails any threshold
        if (options.stabilityScoreThresh() > 0 && !(stability >= (float) options.stabilityScoreThresh())) {
            return null;
        }
        int[] box = Boxes.ofMask(mask, ch, cw);
        if (Boxes.nearCropEdge(box, crop, image)) {
            return null;
        }
        Rle rle = Rle.encode(mask, ch, cw, crop[0], crop[1], image[3], image[2]);
        return new Candidate(box, iou, stability, point, rle, lowRes, crop);
    }

    /** {@code postprocess_small_regions}: clean each mask, then NMS preferring the masks that did not change. */
    private List<Candidate> removeSmallRegions(List<Candidate> candidates, int h, int w) {
        int area = options.minMaskRegionArea();
        List<Candidate> cleaned = new ArrayList<>();
        List<int[]> boxes = new ArrayList<>();
        float[] scores = new float[candidates.size()];
        for (int i = 0; i < scores.length; i++) {
            Candidate c = candidates.get(i);
            boolean[] mask = c.rle().decode();
            boolean[] filled = SmallRegions.fillHoles(mask, h, w, area);
            boolean[] result = SmallRegions.removeIslands(filled, h, w, area);
            boolean unchanged = filled == mask && result == filled;
            scores[i] = unchanged ? 1f : 0f;
            int[] box = Boxes.ofMask(result, h, w);
            boxes.add(box);
            cleaned.add(unchanged ? c : new Candidate(box, c.iou(), c.stability(), c.point(), Rle.encode(result, h, w), c.lowRes(), c.crop()));
        }
        double threshold = Math.max(options.boxNmsThresh(), options.cropNmsThresh());
        return select(cleaned, Boxes.nms(boxes, scores, threshold));
    }

    private static List<Candidate> select(List<Candidate> candidates, int[] keep) {
        List<Candidate> out = new ArrayList<>(keep.length);
        for (int i : keep) {
            out.add(candidates.get(i));
        }
        return out;
    }

    /** image[y0:y1, x0:x1]. */
    static RgbImage cropOf(RgbImage image, int[] box) {
        int w = box[2] - box[0];
        int h = box[3] - box[1];
        if (w == image.width() && h == image.height()) {
            return image;
        }
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            System.arraycopy(image.rgb(), ((box[1] + y) * image.width() + box[0]) * 3, rgb, y * w * 3, w * 3);
        }
        return new RgbImage(w, h, rgb);
    }
}
