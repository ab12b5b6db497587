package ai.vl4j.zeroshot;

import ai.vl4j.InvalidInputException;
import ai.vl4j.ModelFormatException;
import ai.vl4j.clip.ClipModel;
import ai.vl4j.config.ConfigNode;
import ai.vl4j.image.RgbImage;
import ai.vl4j.siglip.SiglipModel;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Zero-shot image classification and embeddings (transformers' {@code zero-shot-image-classification} pipeline),
 * for a SigLIP or CLIP checkpoint chosen by its {@code config.json}:
 * <pre>
 *   texts  = [template.format(label) for label in labels]        default "This is a photo of {}."
 *   t_l    = text_features(texts[l]) / ‖·‖    (cached per text: a label set is encoded once)     [L, P]
 *   i      = image_features(image) / ‖·‖                                                          [P]
 *   logits = (t · i) · exp(logit_scale) + logit_bias                                              [L]
 *   scores = σ(logits) (SigLIP) | softmax(logits) (CLIP), ranked by score (ties keep the labels' order)
 * </pre>
 * The normalised embeddings serve retrieval ({@link #embedImage}, {@link #embedText}). Methods may be called
 * from several threads.
 */
public final class ZeroShotClassifier implements AutoCloseable {
    /** The pipeline's default hypothesis template. */
    public static final String DEFAULT_TEMPLATE = "This is a photo of {}.";
    /** Cached text embeddings hold at most this many floats (64 MB) in all; the least recently used go first. */
    private static final long CACHE_FLOATS = 1L << 24;
    /** Token rows per batch of label texts through the text tower (SigLIP: 32 texts of 64). */
    static final int BATCH_ROWS = 2048;

    private final ZeroShotModel model;
    private final Map<String, float[]> textCache;

    public ZeroShotClassifier(ZeroShotModel model) {
        this.model = model;
        int capacity = (int) Math.max(1, CACHE_FLOATS / model.embeddingDim());
        this.textCache = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, float[]> eldest) {
                return size() > capacity;
            }
        };
    }

    /** True when the folder's config.json names a model_type this class serves (siglip, clip). */
    public static boolean isZeroShotModel(Path folder) {
        try {
            String type = ConfigNode.load(folder.resolve("config.json")).optString("model_type", "");
            return type.equals("siglip") || type.equals("clip");
        } catch (ModelFormatException e) {
            return false;
        }
    }

    /** Loads a HF SiglipModel or CLIPModel folder, the family chosen by config.json's model_type. */
    public static ZeroShotClassifier load(Path folder) {
        ConfigNode config = ConfigNode.load(folder.resolve("config.json"));
        String type = config.optString("model_type", "");
        return new ZeroShotClassifier(switch (type) {
            case "siglip" -> SiglipModel.load(folder);
            case "clip" -> ClipModel.load(folder);
            default -> throw config.error("model_type", "is \"" + type + "\"; zero-shot classification needs a siglip or clip model");
        });
    }

    public ZeroShotModel model() {
        return model;
    }

    /** "siglip" or "clip". */
    public String family() {
        return model.family();
    }

    /** L2-normalised image embedding [P] (image_embeds). */
    public float[] embedImage(RgbImage image) {
        return embedPixels(model.pixelValues(image));
    }

    /** L2-normalised image embedding [P] of pixel_values [3, S, S]. */
    public float[] embedPixels(float[] pixelValues) {
        return normalize(model.imageFeatures(pixelValues));
    }

    /** L2-normalised text embedding [P] (text_embeds) of text as given (no template), cached. */
    public float[] embedText(String text) {
        synchronized (textCache) {
            float[] hit = textCache.get(text);
            if (hit != null) {
                return hit;
            }
        }
        float[] embedding = normalize(model.textFeatures(model.inputIds(text)));
        synchronized (textCache) {
            textCache.put(text, embedding);
        }
        return embedding;
    }

    /**
     * The label set's text embeddings, after checking labels and template: texts not in the cache are tokenized
     * first (so a bad one fails before any work), then encoded in batches of about {@link #BATCH_ROWS} token rows.
     */
    public LabelSet labels(List<String> labels, String template) {
        checkLabels(labels, "labels");
        checkTemplate(template, "template");
        Map<String, float[]> embeddings = new LinkedHashMap<>();
        Map<String, int[]> missing = new LinkedHashMap<>();
        for (String label : labels) {
            String text = format(template, label);
            float[] hit;
            synchronized (textCache) {
                hit = textCache.get(text);
            }
            if (hit != null) {
                embeddings.put(text, hit);
            } else if (!missing.containsKey(text)) {
                missing.put(text, model.inputIds(text));
            }
        }
        List<String> batch = new ArrayList<>();
        int longest = 0;
        for (Map.Entry<String, int[]> e : missing.entrySet()) {
            longest = Math.max(longest, e.getValue().length);
            batch.add(e.getKey());
            if ((long) longest * batch.size() >= BATCH_ROWS) {
                encodeBatch(batch, missing, embeddings);
                batch.clear();
                longest = 0;
            }
        }
        encodeBatch(batch, missing, embeddings);
        int p = model.embeddingDim();
        float[] rows = new float[labels.size() * p];
        for (int l = 0; l < labels.size(); l++) {
            System.arraycopy(embeddings.get(format(template, labels.get(l))), 0, rows, l * p, p);
        }
        return new LabelSet(List.copyOf(labels), template, Tensor.ofFloats("label_embeddings", rows, labels.size(), p));
    }

    /** Encodes texts as one batch into embeddings and the cache. */
    private void encodeBatch(List<String> texts, Map<String, int[]> ids, Map<String, float[]> embeddings) {
        if (texts.isEmpty()) {
            return;
        }
        float[][] features = model.textFeatures(texts.stream().map(ids::get).toArray(int[][]::new));
        for (int i = 0; i < texts.size(); i++) {
            float[] embedding = normalize(features[i]);
            embeddings.put(texts.get(i), embedding);
            synchronized (textCache) {
                textCache.put(texts.get(i), embedding);
            }
        }
    }

    /** The labels' scores for image, best first. */
    public List<LabelScore> classify(RgbImage image, LabelSet labels) {
        return classify(embedImage(image), labels);
    }

    /** The labels' scores for a normalised image embedding, best first. */
    public List<LabelScore> classify(float[] imageEmbedding, LabelSet labels) {
        float[] logits = logits(imageEmbedding, labels);
        float[] scores = model.scores(logits);
        List<LabelScore> ranked = new ArrayList<>(labels.size());
        for (int l = 0; l < labels.size(); l++) {
            ranked.add(new LabelScore(labels.labels().get(l), scores[l], logits[l]));
        }
        ranked.sort(Comparator.comparingDouble(s -> -s.score()));   // stable: ties keep the labels' order
        return ranked;
    }

    /** logits_per_image [L] of a normalised image embedding, in the labels' order. */
    public float[] logits(float[] imageEmbedding, LabelSet labels) {
        if (imageEmbedding.length != model.embeddingDim()) {
            throw new IllegalArgumentException("image embedding of " + imageEmbedding.length + " values, the model's have " + model.embeddingDim());
        }
        float[] cos = new float[labels.size()];
        MatMul.linear(imageEmbedding, 1, labels.embeddings(), null, cos);
        float scale = model.logitScale();
        float bias = model.logitBias();
        for (int l = 0; l < cos.length; l++) {
            cos[l] = cos[l] * scale + bias;
        }
        return cos;
    }

    /** An empty list or an empty (blank) label is an error naming the field. */
    public static void checkLabels(List<String> labels, String field) {
        if (labels == null || labels.isEmpty()) {
            throw new InvalidInputException(field + ": the label list is empty; give at least one label");
        }
        for (int i = 0; i < labels.size(); i++) {
            if (labels.get(i) == null || labels.get(i).isBlank()) {
                throw new InvalidInputException(field + ": label " + (i + 1) + " of " + labels.size() + " is empty");
            }
        }
    }

    /** A template must hold exactly one {@code {}}, where the label goes (Python's str.format with one argument). */
    public static void checkTemplate(String template, String field) {
        if (template == null) {
            throw new InvalidInputException(field + ": missing");
        }
        int first = template.indexOf("{}");
        if (first < 0) {
            throw new InvalidInputException(field + ": \"" + template + "\" has no {} where the label goes (e.g. \"" + DEFAULT_TEMPLATE + "\")");
        }
        if (template.indexOf("{}", first + 2) >= 0) {
            throw new InvalidInputException(field + ": \"" + template + "\" has more than one {}; the label fills exactly one");
        }
    }

    /** template with its {} replaced by label. */
    public static String format(String template, String label) {
        int at = template.indexOf("{}");
        return template.substring(0, at) + label + template.substring(at + 2);
    }

    /** v / ‖v‖₂ (a copy), the norm accumulated in double and applied in float32 as torch does. */
    static float[] normalize(float[] v) {
        double sq = 0;
        for (float x : v) {
            sq += (double) x * x;
        }
        float norm = (float) Math.sqrt(sq);
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i] / norm;
        }
        return out;
    }

    @Override
    public void close() {
        model.close();
    }
}
