package ai.vl4j.cli;

import ai.vl4j.InvalidInputException;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.safetensors.SafetensorsFile;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.sam.AutomaticMaskGenerator;
import ai.vl4j.sam.Boxes;
import ai.vl4j.sam.MaskImages;
import ai.vl4j.sam.Prediction;
import ai.vl4j.sam.Rle;
import ai.vl4j.sam.Sam;
import ai.vl4j.sam.SamPredictor;
import ai.vl4j.tensor.Parallel;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code vl4j segment}: SAM's masks for point, box and mask prompts (the official SamPredictor), or every object in the
 * image with {@code --auto} (SamAutomaticMaskGenerator); as text, JSON (masks in the model's output order, COCO's
 * uncompressed RLE) and, with --out, PNGs, low-res logits and an overlay.
 */
@Command(name = "segment", description = "Segment an image with SAM: masks for --point/--box/--mask-input prompts, or all objects (--auto).",
        sortOptions = false)
final class SegmentCommand implements Callable<Integer> {
    static final String DEFAULT_MODEL = "facebook/sam-vit-base";

    @Option(names = {"-m", "--model"}, paramLabel = "MODEL", defaultValue = DEFAULT_MODEL,
            description = "SAM checkpoint in the Hugging Face SamModel layout: folder or ORG/NAME[@REVISION] (default ${DEFAULT-VALUE}).")
    String model;

    @Option(names = {"-i", "--image"}, paramLabel = "FILE", required = true, description = "The image (file or data: URI).")
    String image;

    @Option(names = "--point", paramLabel = "X,Y,LABEL",
            description = "A point in image pixels with label 1 (foreground) or 0 (background); repeat for several.")
    List<String> points = new ArrayList<>();

    @Option(names = "--box", paramLabel = "X0,Y0,X1,Y1", description = "A box in image pixels (top-left, bottom-right).")
    String box;

    @Option(names = "--mask-input", paramLabel = "FILE",
            description = "Low-res logits of an earlier prediction (a mask-K.logits.safetensors that --out wrote).")
    Path maskInput;

    @Option(names = "--single-mask", description = "One mask instead of three (the official multimask_output=False).")
    boolean singleMask;

    @Option(names = "--auto", description = "Segment everything: a grid of point prompts, filtered and de-duplicated.")
    boolean auto;

    @Option(names = "--points-per-side", paramLabel = "N", description = "--auto: grid points per side (default 32).")
    Integer pointsPerSide;

    @Option(names = "--points-per-batch", paramLabel = "B", description = "--auto: prompts decoded together (default 64).")
    Integer pointsPerBatch;

    @Option(names = "--pred-iou-thresh", paramLabel = "X", description = "--auto: keep masks with predicted IoU above X (default 0.88; <= 0: all).")
    Double predIouThresh;

    @Option(names = "--stability-score-thresh", paramLabel = "Y", description = "--auto: keep masks at least this stable (default 0.95; <= 0: all).")
    Double stabilityScoreThresh;

    @Option(names = "--stability-score-offset", paramLabel = "Z", description = "--auto: logit offset of the stability score (default 1.0).")
    Double stabilityScoreOffset;

    @Option(names = "--box-nms-thresh", paramLabel = "W", description = "--auto: box IoU for NMS within a crop (default 0.7).")
    Double boxNmsThresh;

    @Option(names = "--crop-n-layers", paramLabel = "L", description = "--auto: crop layers beyond the whole image (default 0).")
    Integer cropNLayers;

    @Option(names = "--crop-overlap-ratio", paramLabel = "R", description = "--auto: overlap of neighbouring crops (default 512/1500).")
    Double cropOverlapRatio;

    @Option(names = "--crop-n-points-downscale-factor", paramLabel = "D", description = "--auto: grid points per side / D per layer (default 1).")
    Integer cropNPointsDownscaleFactor;

    @Option(names = "--crop-nms-thresh", paramLabel = "C", description = "--auto: box IoU for NMS across crops (default 0.7).")
    Double cropNmsThresh;

    @Option(names = "--min-mask-region-area", paramLabel = "A", description = "--auto: fill holes and drop islands under A pixels (default 0: off).")
    Integer minMaskRegionArea;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Write mask-K.png, mask-K.logits.safetensors (the low-res logits, for --mask-input) and overlay.png "
                    + "(one panel per mask with the prompt; with --auto all masks in one picture).")
    Path out;

    @Option(names = "--json", description = "Print {\"masks\": [{predicted_iou, area, bbox_xywh, rle: {size, counts}, ...}]}.")
    boolean json;

    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: all cores).")
    Integer threads;

    /** A parsed prompt in image pixels. */
    private record Prompt(double[][] points, int[] labels, double[] box, float[] maskInput) {
    }

    @Override
    public Integer call() throws Exception {
        if (threads != null) {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
            }
            Parallel.setThreads(threads);
        }
        AutomaticMaskGenerator.Options options = autoOptions();
        if (!auto && points.isEmpty() && box == null && maskInput == null) {
            throw new InvalidInputException("no prompt: give --point X,Y,LABEL, --box X0,Y0,X1,Y1 or --mask-input FILE, or --auto");
        }
        double[][] pointList = parsePoints();
        int[] labels = parseLabels();
        double[] boxValues = box == null ? null : numbers("--box", box, 4, "X0,Y0,X1,Y1");
        RgbImage picture = ImageLoader.load(image);
        Path folder = resolveModel();
        try (Sam sam = Sam.load(folder)) {
            Map<String, Object> result;
            List<Output> files = new ArrayList<>();
            if (auto) {
                result = runAuto(sam, picture, options, files);
            } else {
                float[] mask = maskInput == null ? null : readMaskInput(maskInput, sam.maskSize());
                result = runPrompt(sam, picture, new Prompt(pointList, labels, boxValues, mask), files);
            }
            if (out != null) {
                write(files);
            }
            PrintStream stdout = Streams.out();
            if (json) {
                stdout.println(new ObjectMapper().writeValueAsString(result));
            } else {
                printText(result);
            }
            if (out != null && !Streams.quiet()) {
                Streams.err().println("wrote " + files.size() + " files to " + out);
            }
        }
        return 0;
    }

    private Path resolveModel() {
        return ModelOption.resolve(model);
    }

    /** A file for --out: its name and bytes. */
    private record Output(String name, byte[] bytes) {
    }

    private Map<String, Object> runPrompt(Sam sam, RgbImage picture, Prompt prompt, List<Output> files) throws IOException {
        SamPredictor predictor = new SamPredictor(sam);
        long t0 = System.nanoTime();
        predictor.setImage(picture);
        SamPredictor.Prompt checked = predictor.prompt(prompt.points(), prompt.labels(), prompt.box(), prompt.maskInput());
        long t1 = System.nanoTime();
        Prediction p = predictor.predict(checked, !singleMask);
        long t2 = System.nanoTime();
        if (Streams.verbose()) {
            Streams.err().printf("image encoder %.3f s, prompt + decoder + postprocessing %.3f s%n", (t1 - t0) / 1e9, (t2 - t1) / 1e9);
        }
        List<Map<String, Object>> masks = new ArrayList<>();
        List<boolean[]> bitmaps = new ArrayList<>();
        for (int k = 0; k < p.count(); k++) {
            boolean[] mask = p.mask(k);
            bitmaps.add(mask);
            Rle rle = Rle.encode(mask, p.height(), p.width());
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("predicted_iou", (double) p.iouPredictions()[k]);
            m.put("area", rle.area());
            m.put("bbox_xywh", Boxes.toXywh(Boxes.ofMask(mask, p.height(), p.width())));
            m.put("rle", rleJson(rle));
            masks.add(m);
            if (out != null) {
                files.add(new Output("mask-" + k + ".png", MaskImages.maskPng(mask, p.height(), p.width())));
                files.add(new Output("mask-" + k + ".logits.safetensors", logits(p.lowRes(k), p.lowResSize())));
            }
        }
        if (out != null) {
            files.add(new Output("overlay.png", MaskImages.panelsPng(picture, bitmaps, prompt.points(), prompt.labels(), prompt.box())));
        }
        return Map.of("masks", masks);
    }

    private Map<String, Object> runAuto(Sam sam, RgbImage picture, AutomaticMaskGenerator.Options options, List<Output> files)
            throws IOException {
        // points batches done of the crop's grid on stderr (not with --json or -q): the generator takes minutes on SAM-B
        ProgressBar bar = json ? null : new ProgressBar(Streams.err(), "points");
        List<AutomaticMaskGenerator.MaskRecord> records = new AutomaticMaskGenerator(sam, options).generate(picture,
                bar == null ? AutomaticMaskGenerator.Listener.NONE : new AutomaticMaskGenerator.Listener() {
                    @Override
                    public void encoding(int crop, int crops) {
                        bar.update("crop " + (crop + 1) + "/" + crops + ": encoding the image", 0, 0);
                    }

                    @Override
                    public void batch(int crop, int crops, int done, int total, float[] iou) {
                        bar.update("crop " + (crop + 1) + "/" + crops + ": points", done, total);
                    }
                });
        if (bar != null) {
            bar.done();
        }
        List<Map<String, Object>> masks = new ArrayList<>();
        List<boolean[]> bitmaps = new ArrayList<>();
        for (int k = 0; k < records.size(); k++) {
            AutomaticMaskGenerator.MaskRecord r = records.get(k);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("predicted_iou", (double) r.predictedIou());
            m.put("area", r.area());
            m.put("bbox_xywh", r.bboxXywh());
            m.put("rle", rleJson(r.rle()));
            m.put("stability_score", Float.isNaN(r.stabilityScore()) ? null : (double) r.stabilityScore());
            m.put("point_coords", List.of(r.pointCoords()));
            m.put("crop_box_xywh", r.cropBoxXywh());
            masks.add(m);
            if (out != null) {
                boolean[] mask = r.rle().decode();
                bitmaps.add(mask);
                files.add(new Output("mask-" + k + ".png", MaskImages.maskPng(mask, picture.height(), picture.width())));
                files.add(new Output("mask-" + k + ".logits.safetensors", logits(r.lowResLogits(), sam.maskSize())));
            }
        }
        if (out != null) {
            files.add(new Output("overlay.png", MaskImages.overlayPng(picture, bitmaps, null, null, null)));
        }
        return Map.of("masks", masks);
    }

    private static Map<String, Object> rleJson(Rle rle) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("size", new int[] {rle.height(), rle.width()});
        m.put("counts", rle.counts());
        return m;
    }

    /** One F32 tensor mask_input [1, s, s]: what --mask-input reads back. */
    private static byte[] logits(float[] lowRes, int side) throws IOException {
        Path tmp = Files.createTempFile("vl4j-mask", ".safetensors");
        try {
            SafetensorsWriter.write(tmp, List.of(Tensor.ofFloats("mask_input", lowRes, 1, side, side)), Map.of());
            return Files.readAllBytes(tmp);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Every file to a temporary name first, then moved into place: no half-written outputs. */
    private void write(List<Output> files) throws IOException {
        Files.createDirectories(out);
        for (Output f : files) {
            Path tmp = out.resolve("." + f.name() + ".tmp");
            Files.write(tmp, f.bytes());
            Files.move(tmp, out.resolve(f.name()), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    @SuppressWarnings("unchecked")
    private void printText(Map<String, Object> result) {
        PrintStream stdout = Streams.out();
        List<Map<String, Object>> masks = (List<Map<String, Object>>) result.get("masks");
        if (masks.isEmpty()) {
            stdout.println("no masks");
        }
        for (int k = 0; k < masks.size(); k++) {
            Map<String, Object> m = masks.get(k);
            StringBuilder line = new StringBuilder(String.format("mask %d: predicted_iou %.4f, area %d, bbox_xywh %s", k,
                    (double) m.get("predicted_iou"), (int) m.get("area"), Arrays.toString((int[]) m.get("bbox_xywh"))));
            if (m.get("stability_score") instanceof Double s) {
                line.append(String.format(", stability %.4f", s));
            }
            stdout.println(line);
        }
    }

    /** The --auto options (official defaults for those not given); any of them without --auto is a usage error. */
    private AutomaticMaskGenerator.Options autoOptions() {
        Object[] given = {pointsPerSide, pointsPerBatch, predIouThresh, stabilityScoreThresh, stabilityScoreOffset, boxNmsThresh,
                cropNLayers, cropOverlapRatio, cropNPointsDownscaleFactor, cropNmsThresh, minMaskRegionArea};
        if (!auto) {
            if (Arrays.stream(given).anyMatch(v -> v != null)) {
                throw new IllegalArgumentException("the grid, threshold, NMS and crop options go with --auto");
            }
            return null;
        }
        if (!points.isEmpty() || box != null || maskInput != null || singleMask) {
            throw new IllegalArgumentException("--auto prompts the image itself: leave out --point, --box, --mask-input and --single-mask");
        }
        AutomaticMaskGenerator.Options d = AutomaticMaskGenerator.Options.DEFAULTS;
        try {
            return new AutomaticMaskGenerator.Options(or(pointsPerSide, d.pointsPerSide()), or(pointsPerBatch, d.pointsPerBatch()),
                    or(predIouThresh, d.predIouThresh()), or(stabilityScoreThresh, d.stabilityScoreThresh()),
                    or(stabilityScoreOffset, d.stabilityScoreOffset()), or(boxNmsThresh, d.boxNmsThresh()),
                    or(cropNLayers, d.cropNLayers()), or(cropNmsThresh, d.cropNmsThresh()), or(cropOverlapRatio, d.cropOverlapRatio()),
                    or(cropNPointsDownscaleFactor, d.cropNPointsDownscaleFactor()), or(minMaskRegionArea, d.minMaskRegionArea()));
        } catch (InvalidInputException e) {
            throw new InvalidInputException("--" + e.getMessage());
        }
    }

    private static <T> T or(T value, T fallback) {
        return value != null ? value : fallback;
    }

    private double[][] parsePoints() {
        double[][] out = new double[points.size()][];
        for (int i = 0; i < out.length; i++) {
            double[] v = numbers("--point", points.get(i), 3, "X,Y,LABEL");
            out[i] = new double[] {v[0], v[1]};
        }
        return out.length == 0 ? null : out;
    }

    private int[] parseLabels() {
        int[] out = new int[points.size()];
        for (int i = 0; i < out.length; i++) {
            double label = numbers("--point", points.get(i), 3, "X,Y,LABEL")[2];
            if (label != Math.rint(label) || Math.abs(label) > 1e9) {
                throw new InvalidInputException("--point " + points.get(i) + ": label " + num(label)
                        + " must be 1 (foreground) or 0 (background)");
            }
            out[i] = (int) label;
        }
        return out.length == 0 ? null : out;
    }

    /** count comma-separated finite numbers, or a one-line error naming the flag and its value. */
    private static double[] numbers(String flag, String value, int count, String form) {
        String[] parts = value.split(",", -1);
        if (parts.length != count) {
            throw new InvalidInputException(flag + " " + value + ": expected " + form);
        }
        double[] out = new double[count];
        for (int i = 0; i < count; i++) {
            try {
                out[i] = Double.parseDouble(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new InvalidInputException(flag + " " + value + ": '" + parts[i] + "' is not a number (expected " + form + ")");
            }
            if (!Double.isFinite(out[i])) {
                throw new InvalidInputException(flag + " " + value + ": '" + parts[i] + "' is not a finite number");
            }
        }
        return out;
    }

    /** The tensor mask_input [1, s, s] (or [s, s], [1, 1, s, s]) of a safetensors file. */
    static float[] readMaskInput(Path file, int side) {
        if (!Files.isRegularFile(file)) {
            throw new InvalidInputException("--mask-input " + file + ": no such file");
        }
        SafetensorsFile f;
        try {
            f = SafetensorsFile.open(file, Arena.ofAuto());
        } catch (RuntimeException e) {
            throw new InvalidInputException("--mask-input " + file + ": not a safetensors file (" + e.getMessage() + ")");
        }
        Tensor t = f.tensors().get("mask_input");
        if (t == null && f.tensors().size() == 1) {
            t = f.tensors().values().iterator().next();
        }
        if (t == null) {
            throw new InvalidInputException("--mask-input " + file + ": no tensor mask_input (it has " + f.tensors().keySet() + ")");
        }
        long[] shape = t.shape();
        long ones = Arrays.stream(shape).limit(Math.max(0, shape.length - 2)).filter(d -> d != 1).count();
        boolean ok = shape.length >= 2 && shape.length <= 4 && ones == 0 && shape[shape.length - 1] == side && shape[shape.length - 2] == side;
        if (!ok) {
            throw new InvalidInputException("--mask-input " + file + ": mask_input has shape " + Arrays.toString(shape)
                    + "; this model takes [1, " + side + ", " + side + "] (the low-res logits of one of its predictions)");
        }
        if (!t.dtype().isFloatWeight()) {
            throw new InvalidInputException("--mask-input " + file + ": mask_input is " + t.dtype() + ", expected F32");
        }
        return t.toFloatArray();
    }

    /** A number as a person writes it (10, not 10.0). */
    private static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }
}
