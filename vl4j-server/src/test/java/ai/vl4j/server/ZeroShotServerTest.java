package ai.vl4j.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.zeroshot.ZeroShotClassifier;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * POST /v1/classify and /v1/embeddings over real HTTP with the CLIP and SigLIP fixture models: the fixtures' scores,
 * logits and embeddings come back (also through the official OpenAI Java SDK), and every bad field is a 400 naming it.
 */
class ZeroShotServerTest {
    static final Path CLIP = Fixtures.ZEROSHOT_CLIP;
    static final Path SIGLIP = Fixtures.ZEROSHOT_SIGLIP;
    static ZeroShotClassifier clipModel;
    static ZeroShotClassifier siglipModel;
    static TestServer clip;
    static TestServer siglip;

    @BeforeAll
    static void start() {
        clipModel = ZeroShotClassifier.load(CLIP.resolve("model"));
        siglipModel = ZeroShotClassifier.load(SIGLIP.resolve("model"));
        clip = new TestServer(TestServer.config(), clipModel, "tiny-clip");
        siglip = new TestServer(TestServer.config(), siglipModel, "tiny-siglip");
    }

    @AfterAll
    static void stop() {
        clip.close();
        siglip.close();
        clipModel.close();
        siglipModel.close();
    }

    static JsonNode cases(Path fixture) {
        return Fixtures.json(fixture.resolve("expected/cases.json"));
    }

    static float[] row(Path fixture, String name, int i) {
        Tensor t = Fixtures.expected(fixture.resolve("expected").resolve(fixture == CLIP ? "clip.safetensors" : "siglip.safetensors"), name);
        int per = (int) (t.numel() / t.dim(0));
        return Arrays.copyOfRange(t.toFloatArray(), i * per, (i + 1) * per);
    }

    static void assertClose(Path fixture, String label, float[] got, float[] expected) {
        JsonNode tol = cases(fixture).get("tolerance");
        Fixtures.assertClose(label, got, expected, tol.get("atol").asDouble(), tol.get("rtol").asDouble());
    }

    static String image(Path fixture, int i) {
        return TestServer.dataUri(fixture.resolve("images").resolve(cases(fixture).get("images").get(i).asText()));
    }

    static ObjectNode classifyRequest(Path fixture, int image) {
        ObjectNode body = TestServer.JSON.createObjectNode();
        body.put("image", image(fixture, image));
        ArrayNode labels = body.putArray("labels");
        cases(fixture).get("labels").forEach(labels::add);
        if (fixture == SIGLIP) {
            body.put("template", cases(fixture).get("template").asText());
        }
        return body;
    }

    /** Every fixture image through /v1/classify: scores and logits per label as the fixture has them, best first. */
    @Test
    void classifyGivesTheFixturesScores() {
        for (Path fixture : List.of(CLIP, SIGLIP)) {
            TestServer server = fixture == CLIP ? clip : siglip;
            List<String> labels = TestServer.JSON.convertValue(cases(fixture).get("labels"), List.class);
            for (int i = 0; i < cases(fixture).get("images").size(); i++) {
                TestServer.Reply r = server.post("/v1/classify", classifyRequest(fixture, i).toString());
                assertEquals(200, r.status(), r.body());
                JsonNode out = r.json();
                assertEquals(fixture == CLIP ? "clip" : "siglip", out.get("family").asText());
                float[] scores = new float[labels.size()];
                float[] logits = new float[labels.size()];
                double previous = Double.POSITIVE_INFINITY;
                for (JsonNode e : out.get("labels")) {
                    int l = labels.indexOf(e.get("label").asText());
                    scores[l] = e.get("score").floatValue();
                    logits[l] = e.get("logit").floatValue();
                    assertTrue(e.get("score").asDouble() <= previous);
                    previous = e.get("score").asDouble();
                }
                assertClose(fixture, "/v1/classify probs[" + i + "]", scores, row(fixture, "probs", i));
                assertClose(fixture, "/v1/classify logits[" + i + "]", logits, row(fixture, "logits_per_image", i));
            }
        }
        assertTrue(clip.log().contains("POST /v1/classify 200"), clip.log());
    }

    @Test
    void embeddingsOfTextsAndImagesInOpenAisShape() {
        ObjectNode body = TestServer.JSON.createObjectNode();
        body.put("model", "tiny-clip");
        ArrayNode input = body.putArray("input");
        input.add(cases(CLIP).get("texts").get(2).asText());
        input.addObject().put("type", "image_url").putObject("image_url").put("url", image(CLIP, 1));
        input.addObject().put("type", "text").put("text", cases(CLIP).get("texts").get(0).asText());
        TestServer.Reply r = clip.post("/v1/embeddings", body.toString());
        assertEquals(200, r.status(), r.body());
        JsonNode out = r.json();
        assertEquals("list", out.get("object").asText());
        assertEquals("tiny-clip", out.get("model").asText());
        JsonNode data = out.get("data");
        assertEquals(3, data.size());
        for (int i = 0; i < 3; i++) {
            assertEquals("embedding", data.get(i).get("object").asText());
            assertEquals(i, data.get(i).get("index").asInt());
        }
        assertClose(CLIP, "/v1/embeddings text", floats(data.get(0).get("embedding")), row(CLIP, "text_embeds", 2));
        assertClose(CLIP, "/v1/embeddings image", floats(data.get(1).get("embedding")), row(CLIP, "image_embeds", 1));
        assertClose(CLIP, "/v1/embeddings text part", floats(data.get(2).get("embedding")), row(CLIP, "text_embeds", 0));
        int tokens = Arrays.stream(new int[] {2, 0}).map(l -> Arrays.stream(cases(CLIP).get("attention_mask").get(l).toString()
                .replaceAll("[\\[\\]]", "").split(",")).mapToInt(Integer::parseInt).sum()).sum();
        assertEquals(tokens, out.get("usage").get("prompt_tokens").asInt());
        // base64: the same float32 values, little-endian
        body.put("encoding_format", "base64");
        JsonNode b64 = clip.post("/v1/embeddings", body.toString()).json();
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(b64.get("data").get(1).get("embedding").asText())).order(ByteOrder.LITTLE_ENDIAN);
        float[] decoded = new float[bytes.remaining() / 4];
        bytes.asFloatBuffer().get(decoded);
        assertArrayEquals(floats(data.get(1).get("embedding")), decoded);
    }

    /** The official OpenAI Java SDK, unmodified: client.embeddings().create(...). */
    @Test
    void openAiSdkEmbeddings() {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(siglip.server.url() + "v1").apiKey("not-needed").maxRetries(0).build();
        try {
            List<String> texts = TestServer.JSON.convertValue(cases(SIGLIP).get("texts"), List.class);
            CreateEmbeddingResponse r = client.embeddings().create(EmbeddingCreateParams.builder().model("tiny-siglip")
                    .inputOfArrayOfStrings(texts).build());
            assertEquals(texts.size(), r.data().size());
            for (int l = 0; l < texts.size(); l++) {
                List<Float> e = r.data().get(l).embedding();
                float[] got = new float[e.size()];
                for (int j = 0; j < got.length; j++) {
                    got[j] = e.get(j);
                }
                assertClose(SIGLIP, "SDK embedding[" + l + "]", got, row(SIGLIP, "text_embeds", l));
            }
        } finally {
            client.close();
        }
    }

    @Test
    void badFieldsAre400sNamingTheField() {
        ObjectNode ok = classifyRequest(CLIP, 0);
        expect400(clip, "/v1/classify", with(ok, "labels", TestServer.JSON.createArrayNode()), "labels", "the label list is empty");
        expect400(clip, "/v1/classify", without(ok, "labels"), "labels", "labels is required");
        expect400(clip, "/v1/classify", with(ok, "labels", TestServer.JSON.createArrayNode().add("cat").add(3)), "labels[1]", "must be a string");
        expect400(clip, "/v1/classify", with(ok, "labels", TestServer.JSON.createArrayNode().add("cat").add(" ")), "labels", "label 2 of 2 is empty");
        expect400(clip, "/v1/classify", with(ok, "template", TestServer.JSON.getNodeFactory().textNode("a photo")), "template", "has no {}");
        expect400(clip, "/v1/classify", with(ok, "image", TestServer.JSON.getNodeFactory().textNode("data:image/png;base64,bWVvdw==")), "image", "");
        expect400(clip, "/v1/classify", without(ok, "image"), "image", "image is required");
        expect400(clip, "/v1/classify", "[1]", null, "must be a JSON object");
        ObjectNode emb = TestServer.JSON.createObjectNode().put("input", "a dog");
        expect400(clip, "/v1/embeddings", with(emb, "input", TestServer.JSON.createArrayNode()), "input", "must not be empty");
        expect400(clip, "/v1/embeddings", with(emb, "input", TestServer.JSON.createArrayNode().add(TestServer.JSON.createArrayNode().add(1))),
                "input[0]", "token arrays are not supported");
        expect400(clip, "/v1/embeddings", with(emb, "input", TestServer.JSON.getNodeFactory().textNode("")), "input", "must not be an empty string");
        expect400(clip, "/v1/embeddings", with(emb, "encoding_format", TestServer.JSON.getNodeFactory().textNode("int8")), "encoding_format", "");
        expect400(clip, "/v1/embeddings", with(emb, "dimensions", TestServer.JSON.getNodeFactory().numberNode(7)), "dimensions", "must be 16");
        ArrayNode badPart = TestServer.JSON.createArrayNode().add("a dog");
        badPart.addObject().put("type", "audio");
        expect400(clip, "/v1/embeddings", with(emb, "input", badPart), "input[1].type", "not supported");
        expect400(clip, "/v1/embeddings", with(emb, "input", TestServer.JSON.getNodeFactory().textNode("word ".repeat(100))), "input", "at most 77");
        // the same requests made valid succeed
        assertEquals(200, clip.post("/v1/classify", ok.toString()).status());
        assertEquals(200, clip.post("/v1/embeddings", with(emb, "dimensions", TestServer.JSON.getNodeFactory().numberNode(16)).toString()).status());
    }

    @Test
    void withoutAZeroShotModelTheRoutesAre404() {
        try (TestServer plain = new TestServer()) {
            TestServer.Reply r = plain.post("/v1/embeddings", "{\"input\": \"a dog\"}");
            assertEquals(404, r.status(), r.body());
            assertTrue(r.json().get("error").get("message").asText().contains("--zero-shot-model"), r.body());
        }
    }

    private static void expect400(TestServer server, String path, Object body, String param, String message) {
        TestServer.Reply r = server.post(path, body.toString());
        assertEquals(400, r.status(), r.body());
        JsonNode error = r.json().get("error");
        assertEquals("invalid_request_error", error.get("type").asText());
        if (param == null) {
            assertTrue(error.get("param").isNull(), r.body());
        } else {
            assertEquals(param, error.get("param").asText(), r.body());
        }
        assertTrue(error.get("message").asText().contains(message), r.body());
    }

    private static ObjectNode with(ObjectNode base, String field, JsonNode value) {
        ObjectNode copy = base.deepCopy();
        copy.set(field, value);
        return copy;
    }

    private static ObjectNode without(ObjectNode base, String field) {
        ObjectNode copy = base.deepCopy();
        copy.remove(field);
        return copy;
    }

    private static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).floatValue();
        }
        return out;
    }
}
