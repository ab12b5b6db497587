package ai.vl4j.sam;

import static ai.vl4j.Fixtures.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.safetensors.SafetensorsFile;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * testdata/sam-tiny against the official SamPredictor: every stage of every case in cases.json (resized pixels
 * bit-exact; input, image embedding, dense PE, transformed prompt, sparse and dense prompt embeddings, low-res
 * logits, IoU predictions and mask logits within |x − ref| ≤ 1e-4 + 1e-4·|ref|; binary masks equal wherever
 * |logit| &gt; 1e-4, as the fixture README says).
 */
class SamPredictorGoldenTest {
    static final Path FIXTURE = Fixtures.SAM_TINY;
    static final Path EXPECTED = FIXTURE.resolve("expected/predictor.safetensors");
    static Sam sam;
    static Map<String, Tensor> expected;

    @BeforeAll
    static void load() {
        sam = Sam.load(FIXTURE.resolve("model"));
        expected = SafetensorsFile.open(EXPECTED, Arena.ofAuto()).tensors();
    }

    @AfterAll
    static void close() {
        sam.close();
    }

    static JsonNode cases() {
        return Fixtures.json(FIXTURE.resolve("expected/cases.json"));
    }

    static Stream<String> images() {
        List<String> stems = new ArrayList<>();
        cases().get("images").fieldNames().forEachRemaining(stems::add);
        return stems.stream();
    }

    static Stream<Arguments> promptCases() {
        List<Arguments> out = new ArrayList<>();
        cases().get("images").properties().forEach(image ->
                image.getValue().get("cases").fieldNames().forEachRemaining(c -> out.add(Arguments.of(image.getKey(), c))));
        return out.stream();
    }

    static RgbImage image(String stem) {
        return ImageLoader.load(FIXTURE.resolve("images/" + stem + ".png"));
    }

    static float[] ref(String name) {
        Tensor t = expected.get(name);
        assertTrue(t != null, "no expected tensor " + name);
        return t.toFloatArray();
    }

    /** [n, c] channels-last rows to [c, n] (the dumps are NCHW). */
    static float[] chw(float[] hwc, int n, int c) {
        float[] out = new float[hwc.length];
        for (int p = 0; p < n; p++) {
            for (int ch = 0; ch < c; ch++) {
                out[ch * n + p] = hwc[p * c + ch];
            }
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("images")
    void preprocessingAndImageEmbedding(String stem) {
        RgbImage image = image(stem);
        JsonNode sizes = cases().get("images").get(stem);
        int l = sam.imageSize();
        RgbImage resized = SamTransforms.resize(image, l);
        assertArrayEquals(new long[] {sizes.get("input_size").get(0).asInt(), sizes.get("input_size").get(1).asInt(), 3},
                expected.get(stem + ".resized_u8").shape());
        assertEquals(sizes.get("input_size").get(0).asInt(), resized.height());
        assertEquals(sizes.get("input_size").get(1).asInt(), resized.width());
        float[] want = ref(stem + ".resized_u8");
        for (int i = 0; i < want.length; i++) {
            assertEquals((int) want[i], resized.rgb()[i] & 0xff, stem + " resized pixel byte " + i);
        }
        float[] input = SamTransforms.input(resized, l);
        assertClose(stem + " input", input, ref(stem + ".input"));
        float[] embedding = sam.imageEncoder().forward(input);
        int e = sam.config().prompt().embeddingSize();
        int c = sam.config().prompt().hiddenSize();
        assertClose(stem + " image_embeddings", chw(embedding, e * e, c), ref(stem + ".image_embeddings"));
        assertClose(stem + " dense_pe", chw(sam.promptEncoder().imagePositionalEncoding(), e * e, c), ref(stem + ".dense_pe"));
    }

    @ParameterizedTest
    @MethodSource("promptCases")
    void everyStageOfAPrompt(String stem, String caseName) {
        JsonNode spec = cases().get("images").get(stem).get("cases").get(caseName);
        String key = stem + "." + caseName + ".";
        SamPredictor predictor = new SamPredictor(sam);
        predictor.setImage(image(stem));

        double[][] points = points(spec);
        int[] labels = labels(spec);
        double[] box = box(spec);
        float[] maskInput = null;
        if (!spec.get("mask_input_from").isNull()) {
            maskInput = ref(key + "mask_input");
            // the fixture fed back the best (argmax IoU) low-res mask of the source case's multimask prediction
            JsonNode source = cases().get("images").get(stem).get("cases").get(spec.get("mask_input_from").asText() + ".multi");
            Prediction first = predictor.predict(points(source), labels(source), box(source), null, true);
            assertClose(key + "mask_input (ours, fed back)", first.lowRes(argmax(first.iouPredictions())), maskInput);
        }
        boolean multimask = spec.get("multimask_output").asBoolean();

        SamPredictor.Prompt prompt = predictor.prompt(points, labels, box, maskInput);
        if (prompt.coords() != null) {
            assertClose(key + "point_coords_input", toFloats(prompt.coords()), ref(key + "point_coords_input"));
        }
        if (prompt.box() != null) {
            assertClose(key + "box_input", toFloats(prompt.box()), ref(key + "box_input"));
        }
        int e = sam.config().prompt().embeddingSize();
        int c = sam.config().prompt().hiddenSize();
        assertClose(key + "sparse_embeddings", sam.promptEncoder().sparse(prompt.coords(), prompt.labels(), prompt.box()),
                ref(key + "sparse_embeddings"));
        assertClose(key + "dense_embeddings", chw(sam.promptEncoder().dense(prompt.maskInput()), e * e, c), ref(key + "dense_embeddings"));

        Prediction p = predictor.predict(prompt, multimask);
        assertEquals(multimask ? 3 : 1, p.count());
        assertClose(key + "low_res_logits", p.lowResLogits(), ref(key + "low_res_logits"));
        assertClose(key + "iou_predictions", p.iouPredictions(), ref(key + "iou_predictions"));
        float[] logits = ref(key + "masks_logits");
        assertClose(key + "masks_logits", p.masksLogits(), logits);
        float[] masks = ref(key + "masks");
        int compared = 0;
        for (int k = 0; k < p.count(); k++) {
            boolean[] mask = p.mask(k);
            int off = k * mask.length;
            for (int i = 0; i < mask.length; i++) {
                if (Math.abs(logits[off + i]) > 1e-4) {
                    assertEquals(masks[off + i] != 0, mask[i], key + "mask " + k + " pixel " + i + " (logit " + logits[off + i] + ")");
                    compared++;
                }
            }
        }
        assertTrue(compared > masks.length * 0.99, "binary masks compared at " + compared + " of " + masks.length + " pixels");
    }

    static double[][] points(JsonNode spec) {
        if (spec.get("points").isNull()) {
            return null;
        }
        double[][] points = new double[spec.get("points").size()][];
        for (int i = 0; i < points.length; i++) {
            points[i] = new double[] {spec.get("points").get(i).get(0).asDouble(), spec.get("points").get(i).get(1).asDouble()};
        }
        return points;
    }

    static int[] labels(JsonNode spec) {
        return spec.get("labels").isNull() ? null : Fixtures.ints(spec.get("labels"));
    }

    static double[] box(JsonNode spec) {
        if (spec.get("box").isNull()) {
            return null;
        }
        double[] box = new double[4];
        for (int i = 0; i < 4; i++) {
            box[i] = spec.get("box").get(i).asDouble();
        }
        return box;
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    static float[] toFloats(double[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) v[i];
        }
        return out;
    }
}
