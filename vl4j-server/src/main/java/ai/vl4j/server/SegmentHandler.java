package ai.vl4j.server;

import ai.vl4j.InvalidInputException;
import ai.vl4j.image.RgbImage;
import ai.vl4j.sam.AutomaticMaskGenerator;
import ai.vl4j.sam.Boxes;
import ai.vl4j.sam.Prediction;
import ai.vl4j.sam.Rle;
import ai.vl4j.sam.Sam;
import ai.vl4j.sam.SamPredictor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code POST /v1/segment}: Segment Anything on one image, the body of {@code vl4j segment --json}.
 * <pre>
 *   {"image": "data:image/...;base64,..." | "https://..." | {"url": ...},
 *    "points": [[x, y], ...], "labels": [1, 0, ...], "box": [x0, y0, x1, y1],
 *    "mask_input": "&lt;base64 of float32 [1, s, s], little-endian&gt;", "multimask_output": true, "return_mask_input": false}
 *   {"image": ..., "auto": true, "points_per_side": 32, "pred_iou_thresh": 0.88, ...}   (the generator's options)
 * → {"object": "segmentation", "model", "image_size": [h, w],
 *    "masks": [{"predicted_iou", "area", "bbox_xywh", "rle": {"size", "counts"}[, "mask_input"]
 *               [, "stability_score", "point_coords", "crop_box_xywh"]}]}
 * </pre>
 * Every field is checked on the request's thread before the model runs (400 naming it); the image goes through
 * the chat endpoint's {@link ImageFetcher} (byte, pixel and address limits). SAM runs one request at a time; the
 * embeddings of the last few images are kept, so clicking more points on the same picture skips the encoder.
 */
final class SegmentHandler {
    private static final List<String> PROMPT_FIELDS = List.of("points", "labels", "box", "mask_input", "multimask_output",
            "return_mask_input");
    /** The generator's options (the official keyword arguments) and whether each is an integer. */
    private static final Map<String, Boolean> AUTO_FIELDS = new LinkedHashMap<>();

    static {
        for (String integer : List.of("points_per_side", "points_per_batch", "crop_n_layers", "crop_n_points_downscale_factor",
                "min_mask_region_area")) {
            AUTO_FIELDS.put(integer, true);
        }
        for (String number : List.of("pred_iou_thresh", "stability_score_thresh", "stability_score_offset", "box_nms_thresh",
                "crop_nms_thresh", "crop_overlap_ratio")) {
            AUTO_FIELDS.put(number, false);
        }
    }

    private static final int CACHED_EMBEDDINGS = 4;

    private final Sam sam;
    private final String modelId;
    private final ImageFetcher images;
    private final SamPredictor predictor;
    private final Map<String, float[]> embeddings = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, float[]> eldest) {
            return size() > CACHED_EMBEDDINGS;
        }
    };

    SegmentHandler(Sam sam, String modelId, ServerConfig config) {
        this.sam = sam;
        this.modelId = modelId;
        this.images = new ImageFetcher(config);
        this.predictor = new SamPredictor(sam);
    }

    void handle(Context ctx) {
        JsonNode body;
        try {
            body = ChatResponses.JSON.readTree(ctx.bodyAsBytes());
        } catch (IOException e) {
            throw ApiException.invalid("the body is not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", null);
        }
        if (body == null || !body.isObject()) {
            throw ApiException.invalid("the body must be a JSON object", null);
        }
        boolean auto = bool(body, "auto", false);
        for (String field : auto ? PROMPT_FIELDS : AUTO_FIELDS.keySet()) {
            if (body.has(field) && !body.get(field).isNull()) {
                throw ApiException.invalid(field + " goes " + (auto ? "without" : "with") + " \"auto\": true", field);
            }
        }
        RgbImage image = image(body);
        ObjectNode out = ChatResponses.JSON.createObjectNode();
        out.put("object", "segmentation");
        out.put("model", modelId);
        out.putArray("image_size").add(image.height()).add(image.width());
        ArrayNode masks = out.putArray("masks");
        if (auto) {
            AutomaticMaskGenerator.Options options = autoOptions(body);
            List<AutomaticMaskGenerator.MaskRecord> records;
            synchronized (sam) {
                records = new AutomaticMaskGenerator(sam, options).generate(image);
            }
            for (AutomaticMaskGenerator.MaskRecord r : records) {
                ObjectNode m = mask(masks, r.predictedIou(), r.bboxXywh(), r.rle());
                if (Float.isNaN(r.stabilityScore())) {
                    m.putNull("stability_score");
                } else {
                    m.put("stability_score", (double) r.stabilityScore());
                }
                m.putArray("point_coords").addArray().add(r.pointCoords()[0]).add(r.pointCoords()[1]);
                ArrayNode crop = m.putArray("crop_box_xywh");
                for (int v : r.cropBoxXywh()) {
                    crop.add(v);
                }
            }
        } else {
            double[][] points = points(body);
            int[] labels = labels(body);
            double[] box = numbers(body, "box", 4);
            float[] maskInput = maskInput(body);
            boolean multimask = bool(body, "multimask_output", true);
            boolean returnMaskInput = bool(body, "return_mask_input", false);
            if (points == null && box == null && maskInput == null) {
                throw ApiException.invalid("no prompt: give points (with labels), a box or a mask_input, or \"auto\": true", "points");
            }
            Prediction p;
            synchronized (sam) {
                setImage(image);
                SamPredictor.Prompt prompt;
                try {
                    prompt = predictor.prompt(points, labels, box, maskInput);
                } catch (InvalidInputException e) {
                    throw ApiException.invalid(e.getMessage(), field(e.getMessage()));
                }
                p = predictor.predict(prompt, multimask);
            }
            for (int k = 0; k < p.count(); k++) {
                boolean[] bits = p.mask(k);
                ObjectNode m = mask(masks, p.iouPredictions()[k], Boxes.toXywh(Boxes.ofMask(bits, p.height(), p.width())),
                        Rle.encode(bits, p.height(), p.width()));
                if (returnMaskInput) {
                    m.put("mask_input", floats(p.lowRes(k)));
                }
            }
        }
        ctx.contentType("application/json");
        ctx.result(ChatResponses.write(out));
    }

    private static ObjectNode mask(ArrayNode masks, float iou, int[] bbox, Rle rle) {
        ObjectNode m = masks.addObject();
        m.put("predicted_iou", (double) iou);
        m.put("area", rle.area());
        ArrayNode b = m.putArray("bbox_xywh");
        for (int v : bbox) {
            b.add(v);
        }
        ObjectNode r = m.putObject("rle");
        r.putArray("size").add(rle.height()).add(rle.width());
        ArrayNode counts = r.putArray("counts");
        for (int c : rle.counts()) {
            counts.add(c);
        }
        return m;
    }

    /** The predictor's messages start with the field they are about. */
    private static String field(String message) {
        if (message.startsWith("label")) {
            return "labels";
        }
        if (message.startsWith("point")) {
            return "points";
        }
        if (message.startsWith("box")) {
            return "box";
        }
        return message.startsWith("mask input") ? "mask_input" : null;
    }

    /** The image's embedding from the cache, or encoded now (called holding the model's lock). */
    private void setImage(RgbImage image) {
        String key = key(image);
        float[] cached = embeddings.get(key);
        if (cached != null) {
            predictor.setEmbedding(cached, image.height(), image.width());
            return;
        }
        predictor.setImage(image);
        embeddings.put(key, predictor.imageEmbedding());
    }

    private static String key(RgbImage image) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(ByteBuffer.allocate(8).putInt(image.width()).putInt(image.height()).array());
            sha.update(image.rgb());
            return Base64.getEncoder().encodeToString(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private RgbImage image(JsonNode body) {
        JsonNode v = body.get("image");
        String param = "image";
        if (v != null && v.isObject()) {
            v = v.get("url");
            param = "image.url";
        }
        if (v == null || v.isNull()) {
            throw ApiException.invalid("image is missing: a data: URI or an http(s) URL of the picture to segment", "image");
        }
        if (!v.isTextual()) {
            throw ApiException.invalid(param + " must be a string (a data: URI or an http(s) URL), got " + v.getNodeType(), param);
        }
        return images.fetch(v.textValue(), param);
    }

    private static boolean bool(JsonNode body, String field, boolean fallback) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw ApiException.invalid(field + " must be true or false, got " + v, field);
        }
        return v.booleanValue();
    }

    private static double[][] points(JsonNode body) {
        JsonNode v = body.get("points");
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isArray() || v.isEmpty()) {
            throw ApiException.invalid("points must be a non-empty array of [x, y] pairs in image pixels, got " + v, "points");
        }
        double[][] out = new double[v.size()][];
        for (int i = 0; i < out.length; i++) {
            JsonNode p = v.get(i);
            if (!p.isArray() || p.size() != 2 || !p.get(0).isNumber() || !p.get(1).isNumber()) {
                throw ApiException.invalid("points[" + i + "] must be [x, y] (two numbers), got " + p, "points");
            }
            out[i] = new double[] {p.get(0).doubleValue(), p.get(1).doubleValue()};
        }
        return out;
    }

    private static int[] labels(JsonNode body) {
        JsonNode v = body.get("labels");
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isArray()) {
            throw ApiException.invalid("labels must be an array of 1 (foreground) and 0 (background), got " + v, "labels");
        }
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode l = v.get(i);
            if (!l.isIntegralNumber() || !l.canConvertToInt()) {
                throw ApiException.invalid("labels[" + i + "] must be 1 (foreground) or 0 (background), got " + l, "labels");
            }
            out[i] = l.intValue();
        }
        return out;
    }

    private static double[] numbers(JsonNode body, String field, int count) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isArray() || v.size() != count) {
            throw ApiException.invalid(field + " must be [x0, y0, x1, y1] in image pixels, got " + v, field);
        }
        double[] out = new double[count];
        for (int i = 0; i < count; i++) {
            if (!v.get(i).isNumber()) {
                throw ApiException.invalid(field + " must be [x0, y0, x1, y1] in image pixels, got " + v, field);
            }
            out[i] = v.get(i).doubleValue();
        }
        return out;
    }

    /** mask_input: base64 of float32 little-endian values, the low-res logits [1, s, s] of an earlier answer. */
    private float[] maskInput(JsonNode body) {
        JsonNode v = body.get("mask_input");
        if (v == null || v.isNull()) {
            return null;
        }
        int s = sam.maskSize();
        if (!v.isTextual()) {
            throw ApiException.invalid("mask_input must be a base64 string of float32 [1, " + s + ", " + s + "] (the mask_input of an earlier answer)",
                    "mask_input");
        }
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(v.textValue());
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("mask_input: invalid base64 (" + e.getMessage() + ")", "mask_input");
        }
        if (bytes.length != 4 * s * s) {
            throw ApiException.invalid("mask_input: " + bytes.length + " bytes, expected float32 [1, " + s + ", " + s + "] = " + 4 * s * s
                    + " bytes (the mask_input of an earlier answer of this model)", "mask_input");
        }
        float[] out = new float[s * s];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        for (float f : out) {
            if (!Float.isFinite(f)) {
                throw ApiException.invalid("mask_input holds a value that is not finite", "mask_input");
            }
        }
        return out;
    }

    private static String floats(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return Base64.getEncoder().encodeToString(b.array());
    }

    private static AutomaticMaskGenerator.Options autoOptions(JsonNode body) {
        Map<String, Number> given = new LinkedHashMap<>();
        AUTO_FIELDS.forEach((field, integer) -> {
            JsonNode v = body.get(field);
            if (v == null || v.isNull()) {
                return;
            }
            boolean ok = integer ? v.isIntegralNumber() && v.canConvertToInt() : v.isNumber();
            if (!ok) {
                throw ApiException.invalid(field + " must be " + (integer ? "an integer" : "a number") + ", got " + v, field);
            }
            given.put(field, integer ? (Number) v.intValue() : (Number) v.doubleValue());
        });
        AutomaticMaskGenerator.Options d = AutomaticMaskGenerator.Options.DEFAULTS;
        try {
            return new AutomaticMaskGenerator.Options(
                    given.getOrDefault("points_per_side", d.pointsPerSide()).intValue(),
                    given.getOrDefault("points_per_batch", d.pointsPerBatch()).intValue(),
                    given.getOrDefault("pred_iou_thresh", d.predIouThresh()).doubleValue(),
                    given.getOrDefault("stability_score_thresh", d.stabilityScoreThresh()).doubleValue(),
                    given.getOrDefault("stability_score_offset", d.stabilityScoreOffset()).doubleValue(),
                    given.getOrDefault("box_nms_thresh", d.boxNmsThresh()).doubleValue(),
                    given.getOrDefault("crop_n_layers", d.cropNLayers()).intValue(),
                    given.getOrDefault("crop_nms_thresh", d.cropNmsThresh()).doubleValue(),
                    given.getOrDefault("crop_overlap_ratio", d.cropOverlapRatio()).doubleValue(),
                    given.getOrDefault("crop_n_points_downscale_factor", d.cropNPointsDownscaleFactor()).intValue(),
                    given.getOrDefault("min_mask_region_area", d.minMaskRegionArea()).intValue());
        } catch (InvalidInputException e) {
            String option = e.getMessage().substring(0, e.getMessage().indexOf(' ')).replace('-', '_');
            throw ApiException.invalid(option + e.getMessage().substring(e.getMessage().indexOf(' ')), option);
        }
    }
}
