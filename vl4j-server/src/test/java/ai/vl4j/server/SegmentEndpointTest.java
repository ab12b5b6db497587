package ai.vl4j.server;

import static ai.vl4j.Fixtures.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.safetensors.SafetensorsFile;
import ai.vl4j.sam.Sam;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /v1/segment} over real HTTP on the sam-tiny fixture: a point prompt's masks against the official
 * predictor, a mask input sent back from an earlier answer, the automatic generator against the official run, and
 * a 400 naming the field for each bad input next to the same request made valid.
 */
class SegmentEndpointTest {
    static final Path FIXTURE = Fixtures.SAM_TINY;
    static final Map<String, Tensor> EXPECTED = SafetensorsFile.open(FIXTURE.resolve("expected/predictor.safetensors"), Arena.ofAuto()).tensors();
    static Sam sam;
    static OpenAiServer server;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() {
        sam = Sam.load(FIXTURE.resolve("model"));
        server = OpenAiServer.start(TestServer.model(), TestServer.config().withHost("127.0.0.1").withPort(0),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), sam, "sam-tiny");
    }

    @AfterAll
    static void stop() {
        server.close();
        sam.close();
    }

    record Reply(int status, JsonNode body) {
    }

    static Reply post(JsonNode body) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(server.url() + "v1/segment"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
                HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), TestServer.JSON.readTree(r.body()));
    }

    static ObjectNode request(String stem) {
        ObjectNode body = TestServer.JSON.createObjectNode();
        body.put("image", TestServer.dataUri(FIXTURE.resolve("images/" + stem + ".png")));
        return body;
    }

    static ObjectNode pointRequest(String stem, double x, double y, int label) {
        ObjectNode body = request(stem);
        body.putArray("points").addArray().add(x).add(y);
        body.putArray("labels").add(label);
        return body;
    }

    /** Masks of the answer against the fixture's (pixels where |logit| > 1e-4) and IoU predictions. */
    static void assertMasks(JsonNode answer, String key, int h, int w) {
        float[] iou = EXPECTED.get(key + "iou_predictions").toFloatArray();
        float[] logits = EXPECTED.get(key + "masks_logits").toFloatArray();
        JsonNode masks = answer.get("masks");
        assertEquals(iou.length, masks.size());
        for (int k = 0; k < masks.size(); k++) {
            JsonNode m = masks.get(k);
            assertClose(key + "predicted_iou " + k, new float[] {(float) m.get("predicted_iou").asDouble()}, new float[] {iou[k]});
            assertArrayEquals(new int[] {h, w}, Fixtures.ints(m.get("rle").get("size")));
            int[] counts = Fixtures.ints(m.get("rle").get("counts"));
            int i = 0;
            int area = 0;
            for (int r = 0; r < counts.length; r++) {
                for (int j = 0; j < counts[r]; j++, i++) {
                    int pixel = (i % h) * w + i / h;
                    float logit = logits[k * h * w + pixel];
                    if (Math.abs(logit) > 1e-4) {
                        assertEquals(logit > 0, r % 2 == 1, key + "mask " + k + " pixel " + pixel);
                    }
                    area += r % 2;
                }
            }
            assertEquals(h * w, i);
            assertEquals(area, m.get("area").asInt());
        }
    }

    @Test
    void pointPromptsAndAMaskInputSentBack() throws Exception {
        JsonNode spec = Fixtures.json(FIXTURE.resolve("expected/cases.json")).get("images").get("dog_150x97");
        JsonNode point = spec.get("cases").get("point_fg.multi").get("points").get(0);
        ObjectNode body = pointRequest("dog_150x97", point.get(0).asDouble(), point.get(1).asDouble(), 1);
        body.put("return_mask_input", true);
        Reply r = post(body);
        assertEquals(200, r.status(), r.body().toString());
        assertEquals("segmentation", r.body().get("object").asText());
        assertArrayEquals(new int[] {150, 97}, Fixtures.ints(r.body().get("image_size")));
        assertMasks(r.body(), "dog_150x97.point_fg.multi.", 150, 97);
        // the best mask's low-res logits, sent back with the same point and one mask (the fixture's point_mask case)
        JsonNode masks = r.body().get("masks");
        int best = 0;
        for (int k = 1; k < masks.size(); k++) {
            best = masks.get(k).get("predicted_iou").asDouble() > masks.get(best).get("predicted_iou").asDouble() ? k : best;
        }
        ObjectNode again = pointRequest("dog_150x97", point.get(0).asDouble(), point.get(1).asDouble(), 1);
        again.put("mask_input", masks.get(best).get("mask_input").asText());
        again.put("multimask_output", false);
        Reply second = post(again);
        assertEquals(200, second.status(), second.body().toString());
        assertMasks(second.body(), "dog_150x97.point_mask.single.", 150, 97);
    }

    /** /health names the SAM model (the web page then shows its segmentation view), and null without one. */
    @Test
    void healthSaysWhichSamModelIsServed() throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(server.url() + "health")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals("sam-tiny", TestServer.JSON.readTree(r.body()).get("sam_model").asText());
        try (TestServer plain = new TestServer()) {
            assertTrue(plain.get("/health").json().get("sam_model").isNull());
        }
    }

    @Test
    void autoEqualsTheOfficialGenerator() throws Exception {
        JsonNode run = Fixtures.json(FIXTURE.resolve("expected/amg.json")).get("grid6");
        ObjectNode body = request(run.get("image").asText().replace(".png", ""));
        body.put("auto", true);
        body.setAll((ObjectNode) run.get("params"));
        Reply r = post(body);
        assertEquals(200, r.status(), r.body().toString());
        JsonNode got = r.body().get("masks");
        JsonNode want = run.get("records");
        assertEquals(want.size(), got.size());
        for (int i = 0; i < got.size(); i++) {
            assertEquals(want.get(i).get("rle"), got.get(i).get("rle"));
            assertArrayEquals(Fixtures.ints(want.get(i).get("bbox_xywh")), Fixtures.ints(got.get(i).get("bbox_xywh")));
            assertClose("stability", new float[] {(float) got.get(i).get("stability_score").asDouble()},
                    new float[] {(float) want.get(i).get("stability_score").asDouble()});
        }
    }

    @Test
    void badInputsAre400sNamingTheFieldAndTheValidRequestWorks() throws Exception {
        String stem = "synth_77x131";                      // 131 × 77
        assertBad(pointRequest(stem, 500, 20, 1), pointRequest(stem, 100, 20, 1), "points", "500");
        assertBad(pointRequest(stem, 10, 20, 2), pointRequest(stem, 10, 20, 0), "labels", "label 2");
        ObjectNode badBox = request(stem);
        badBox.putArray("box").add(50).add(10).add(20).add(40);
        ObjectNode goodBox = request(stem);
        goodBox.putArray("box").add(20).add(10).add(50).add(40);
        assertBad(badBox, goodBox, "box", "x1 20 < x0 50");
        ObjectNode badMask = pointRequest(stem, 10, 20, 1);
        badMask.put("mask_input", java.util.Base64.getEncoder().encodeToString(new byte[4 * 64 * 64]));
        ObjectNode goodMask = pointRequest(stem, 10, 20, 1);
        goodMask.put("mask_input", java.util.Base64.getEncoder().encodeToString(new byte[4 * 32 * 32]));
        assertBad(badMask, goodMask, "mask_input", "16384 bytes");
        ObjectNode notArray = request(stem);
        notArray.put("points", "10,20");
        assertBad(notArray, pointRequest(stem, 10, 20, 1), "points", "10,20");
        ObjectNode noImage = pointRequest(stem, 10, 20, 1);
        noImage.remove("image");
        assertBad(noImage, pointRequest(stem, 10, 20, 1), "image", "missing");
        ObjectNode autoWithPoints = pointRequest(stem, 10, 20, 1);
        autoWithPoints.put("auto", true);
        ObjectNode auto = request(stem);
        auto.put("auto", true).put("points_per_side", 2);
        assertBad(autoWithPoints, auto, "points", "auto");
        ObjectNode zeroGrid = request(stem);
        zeroGrid.put("auto", true).put("points_per_side", 0);
        assertBad(zeroGrid, auto, "points_per_side", "0");
        ObjectNode noPrompt = request(stem);
        assertBad(noPrompt, pointRequest(stem, 10, 20, 1), "points", "no prompt");
    }

    private static void assertBad(ObjectNode bad, ObjectNode good, String param, String mentions) throws Exception {
        Reply r = post(bad);
        assertEquals(400, r.status(), r.body().toString());
        JsonNode error = r.body().get("error");
        assertEquals(param, error.get("param").asText(), error.toString());
        assertTrue(error.get("message").asText().contains(mentions), error.toString());
        assertEquals("invalid_request_error", error.get("type").asText());
        Reply ok = post(good);
        assertEquals(200, ok.status(), ok.body().toString());
        assertTrue(ok.body().get("masks").isArray());
    }
}
