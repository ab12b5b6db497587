package ai.vl4j.server;

import ai.vl4j.InvalidInputException;
import ai.vl4j.image.RgbImage;
import ai.vl4j.zeroshot.LabelScore;
import ai.vl4j.zeroshot.LabelSet;
import ai.vl4j.zeroshot.ZeroShotClassifier;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;

/**
 * {@code POST /v1/classify} and {@code POST /v1/embeddings} on a SigLIP or CLIP model (see {@link ZeroShotClassifier}).
 * As for chat, everything is checked on the request's thread before any model work (400 naming the field); images
 * come through the same {@link ImageFetcher} with its limits. Model work runs one request at a time (the kernels use
 * every core); {@code maxQueue} more may wait, beyond that 429. Label sets are kept (the last
 * {@link #LABEL_SETS} of them, and every text's embedding in the classifier's cache), so a request with a label set
 * seen before costs one image encoding plus a product.
 * <pre>
 *   /v1/classify    {"image": URL | {"url": URL}, "labels": ["a", ...], "template"?: "... {} ..."}
 *                → {"object": "classification", "model", "family", "template", "labels": [{"label", "score", "logit"}]}
 *   /v1/embeddings  {"input": text | [text | {"type": "text", "text"} | {"type": "image_url", "image_url": {"url"}}],
 *                    "encoding_format"?: "float" | "base64", "dimensions"?: n}
 *                → OpenAI's {"object": "list", "data": [{"object": "embedding", "index", "embedding"}], "model", "usage"}
 * </pre>
 */
final class ZeroShotHandler {
    /** Most inputs of one embeddings request (OpenAI's limit). */
    static final int MAX_INPUTS = 2048;
    /** Most labels of one classify request. */
    static final int MAX_LABELS = 10_000;
    /** Label sets kept, least recently used dropped first. */
    static final int LABEL_SETS = 16;

    private final ZeroShotClassifier zs;
    private final String modelId;
    private final ImageFetcher images;
    private final Semaphore places;
    private final Object compute = new Object();
    private final Map<List<String>, LabelSet> labelSets = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<List<String>, LabelSet> eldest) {
            return size() > LABEL_SETS;
        }
    };

    /** zs may be null: then every request is answered 404. */
    ZeroShotHandler(ZeroShotClassifier zs, String modelId, ServerConfig config) {
        this.zs = zs;
        this.modelId = modelId;
        this.images = new ImageFetcher(config);
        this.places = new Semaphore(1 + config.maxQueue());
    }

    void classify(Context ctx) {
        requireModel();
        JsonNode root = body(ctx);
        String url = imageUrl(required(root, "image"), "image");
        List<String> labels = labels(required(root, "labels"));
        if (present(root, "template") && !root.get("template").isTextual()) {
            throw ApiException.invalid("template must be a string with {} where the label goes", "template");
        }
        String template = present(root, "template") ? root.get("template").asText() : ZeroShotClassifier.DEFAULT_TEMPLATE;
        try {
            ZeroShotClassifier.checkTemplate(template, "template");
        } catch (InvalidInputException e) {
            throw ApiException.invalid(e.getMessage(), "template");
        }
        RgbImage image = images.fetch(url, "image");
        List<LabelScore> ranked = run(() -> zs.classify(image, labelSet(labels, template)));
        ObjectNode out = ChatResponses.JSON.createObjectNode();
        out.put("object", "classification");
        out.put("model", modelId);
        out.put("family", zs.family());
        out.put("template", template);
        ArrayNode rows = out.putArray("labels");
        for (LabelScore s : ranked) {
            rows.addObject().put("label", s.label()).put("score", s.score()).put("logit", s.logit());
        }
        ctx.attribute(ChatHandler.TOKENS, "labels=" + labels.size());
        json(ctx, out);
    }

    void embeddings(Context ctx) {
        requireModel();
        JsonNode root = body(ctx);
        JsonNode input = required(root, "input");
        String format = "float";
        if (present(root, "encoding_format")) {
            format = root.get("encoding_format").asText("");
            if (!format.equals("float") && !format.equals("base64")) {
                throw ApiException.invalid("encoding_format must be \"float\" or \"base64\", got " + root.get("encoding_format"), "encoding_format");
            }
        }
        int dim = zs.model().embeddingDim();
        if (present(root, "dimensions") && (!root.get("dimensions").canConvertToInt() || root.get("dimensions").asInt() != dim)) {
            throw ApiException.invalid("dimensions must be " + dim + " (this model's embedding size), got " + root.get("dimensions"), "dimensions");
        }
        // every item checked, and every image fetched and decoded, before any model work
        List<Object> items = new ArrayList<>();                   // String (text) or RgbImage
        if (input.isTextual()) {
            items.add(text(input, "input"));
        } else if (input.isArray()) {
            if (input.isEmpty()) {
                throw ApiException.invalid("input must not be empty", "input");
            }
            if (input.size() > MAX_INPUTS) {
                throw ApiException.invalid("input holds " + input.size() + " items; at most " + MAX_INPUTS, "input");
            }
            for (int i = 0; i < input.size(); i++) {
                items.add(item(input.get(i), "input[" + i + "]"));
            }
        } else {
            throw ApiException.invalid("input must be a string or an array of strings and image parts", "input");
        }
        int tokens = 0;
        for (int i = 0; i < items.size(); i++) {
            if (items.get(i) instanceof String text) {
                try {
                    tokens += zs.model().inputIds(text).length;   // also checks the length against the text tower
                } catch (InvalidInputException e) {
                    throw ApiException.invalid(e.getMessage(), input.isTextual() ? "input" : "input[" + i + "]");
                }
            }
        }
        List<float[]> vectors = run(() -> {
            List<float[]> out = new ArrayList<>();
            for (Object item : items) {
                out.add(item instanceof String text ? zs.embedText(text) : zs.embedImage((RgbImage) item));
            }
            return out;
        });
        ObjectNode out = ChatResponses.JSON.createObjectNode();
        out.put("object", "list");
        ArrayNode data = out.putArray("data");
        for (int i = 0; i < vectors.size(); i++) {
            ObjectNode e = data.addObject();
            e.put("object", "embedding");
            e.put("index", i);
            if (format.equals("base64")) {
                ByteBuffer bytes = ByteBuffer.allocate(4 * dim).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(vectors.get(i));
                e.put("embedding", Base64.getEncoder().encodeToString(bytes.array()));
            } else {
                ArrayNode values = e.putArray("embedding");
                for (float v : vectors.get(i)) {
                    values.add(v);
                }
            }
        }
        out.put("model", modelId);
        out.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
        ctx.attribute(ChatHandler.TOKENS, "inputs=" + items.size() + " tokens=" + tokens);
        json(ctx, out);
    }

    /** 404 when the server runs without a SigLIP/CLIP model. */
    private void requireModel() {
        if (zs == null) {
            throw new ApiException(404, "invalid_request_error", "no classification/embedding model is loaded: start the server"
                    + " with --zero-shot-model M (a SigLIP or CLIP model)", null, "not_found");
        }
    }

    /** The label set of labels under template, encoded once and kept. */
    private LabelSet labelSet(List<String> labels, String template) {
        List<String> key = new ArrayList<>(labels);
        key.add(template);
        LabelSet set = labelSets.get(key);
        if (set == null) {
            set = zs.labels(labels, template);
            labelSets.put(key, set);
        }
        return set;
    }

    private interface Work<T> {
        T run();
    }

    /** Runs model work one request at a time; 429 when maxQueue requests are already waiting. */
    private <T> T run(Work<T> work) {
        if (!places.tryAcquire()) {
            throw ApiException.busy("the server is at capacity (one classify/embeddings request running and " + (places.availablePermits() == 0
                    ? "its queue full" : "others waiting") + "); retry shortly");
        }
        try {
            synchronized (compute) {
                try {
                    return work.run();
                } catch (InvalidInputException e) {
                    throw ApiException.invalid(e.getMessage(), null);
                }
            }
        } finally {
            places.release();
        }
    }

    private static JsonNode body(Context ctx) {
        JsonNode root;
        try {
            root = ChatResponses.JSON.readTree(ctx.bodyAsBytes());
        } catch (JacksonException e) {
            throw ApiException.invalid("the request body is not valid JSON: " + e.getOriginalMessage(), null, "invalid_json");
        } catch (IOException e) {
            throw ApiException.invalid("cannot read the request body: " + e.getMessage(), null);
        }
        if (root == null || !root.isObject()) {
            throw ApiException.invalid("the request body must be a JSON object", null, "invalid_json");
        }
        return root;
    }

    private static boolean present(JsonNode obj, String field) {
        return obj.has(field) && !obj.get(field).isNull();
    }

    private static JsonNode required(JsonNode obj, String field) {
        if (!present(obj, field)) {
            throw ApiException.invalid(field + " is required", field);
        }
        return obj.get(field);
    }

    /** An image as chat's image_url takes it: a URL string, or an object with a url. */
    private static String imageUrl(JsonNode node, String param) {
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isObject() && node.path("url").isTextual()) {
            return node.get("url").asText();
        }
        throw ApiException.invalid(param + " must be a URL string (a data: URI or an http(s) URL) or {\"url\": ...}", param);
    }

    private static List<String> labels(JsonNode node) {
        if (!node.isArray()) {
            throw ApiException.invalid("labels must be an array of strings", "labels");
        }
        if (node.size() > MAX_LABELS) {
            throw ApiException.invalid("labels holds " + node.size() + " labels; at most " + MAX_LABELS, "labels");
        }
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            if (!node.get(i).isTextual()) {
                throw ApiException.invalid("labels[" + i + "] must be a string, got " + node.get(i), "labels[" + i + "]");
            }
            labels.add(node.get(i).asText());
        }
        try {
            ZeroShotClassifier.checkLabels(labels, "labels");
        } catch (InvalidInputException e) {
            throw ApiException.invalid(e.getMessage(), "labels");
        }
        return labels;
    }

    private static String text(JsonNode node, String param) {
        if (node.asText().isEmpty()) {
            throw ApiException.invalid(param + " must not be an empty string", param);
        }
        return node.asText();
    }

    /** One input item: a string or {"type": "text", "text"} (a String), or {"type": "image_url", ...} (fetched). */
    private Object item(JsonNode node, String param) {
        if (node.isTextual()) {
            return text(node, param);
        }
        if (node.isNumber() || node.isArray()) {
            throw ApiException.invalid(param + ": token arrays are not supported; send the text", param);
        }
        if (!node.isObject() || !node.path("type").isTextual()) {
            throw ApiException.invalid(param + " must be a string or an object with a type (text, image_url)", param);
        }
        return switch (node.get("type").asText()) {
            case "text" -> {
                if (!node.path("text").isTextual()) {
                    throw ApiException.invalid(param + ".text must be a string", param + ".text");
                }
                yield text(node.get("text"), param + ".text");
            }
            case "image_url" -> {
                String p = param + ".image_url";
                yield images.fetch(imageUrl(node.path("image_url"), p), p);
            }
            default -> throw ApiException.invalid(param + ".type '" + node.get("type").asText() + "' is not supported (text, image_url)",
                    param + ".type");
        };
    }

    private static void json(Context ctx, ObjectNode body) {
        ctx.contentType("application/json");
        ctx.result(ChatResponses.write(body));
    }
}
