package ai.vl4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.cli.CliTest.Result;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code vl4j classify} and {@code vl4j embed} end to end on the SigLIP and CLIP fixture models: the ranked labels'
 * scores and logits, and the embeddings, against the fixtures' expected values; bad input gets one line and exit 2.
 */
class ZeroShotCliTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static Path fixture(String family) {
        return family.equals("siglip") ? Fixtures.ZEROSHOT_SIGLIP : Fixtures.ZEROSHOT_CLIP;
    }

    static JsonNode cases(Path fixture) {
        return Fixtures.json(fixture.resolve("expected/cases.json"));
    }

    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    static float[] row(Path fixture, String name, int i) {
        String file = fixture.equals(Fixtures.ZEROSHOT_SIGLIP) ? "siglip.safetensors" : "clip.safetensors";
        var t = Fixtures.expected(fixture.resolve("expected").resolve(file), name);
        int per = (int) (t.numel() / t.dim(0));
        return Arrays.copyOfRange(t.toFloatArray(), i * per, (i + 1) * per);
    }

    static void assertClose(Path fixture, String label, float[] got, float[] expected) {
        JsonNode tol = cases(fixture).get("tolerance");
        Fixtures.assertClose(label, got, expected, tol.get("atol").asDouble(), tol.get("rtol").asDouble());
    }

    static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) array.get(i).asDouble();
        }
        return out;
    }

    /**
     * classify --json for every fixture image: each label's score and logit equal the fixture's probs and
     * logits_per_image, ranked by score. The CLIP run leaves out --template (the fixture's is the pipeline default).
     */
    @ParameterizedTest
    @ValueSource(strings = {"siglip", "clip"})
    void classifyJson(String family) throws IOException {
        Path f = fixture(family);
        JsonNode cases = cases(f);
        List<String> labels = strings(cases.get("labels"));
        List<String> images = strings(cases.get("images"));
        for (int i = 0; i < images.size(); i++) {
            List<String> args = new ArrayList<>(List.of("classify", "--model", f.resolve("model").toString(),
                    "--image", f.resolve("images").resolve(images.get(i)).toString(), "--labels", String.join(",", labels), "--json"));
            if (family.equals("siglip")) {
                args.addAll(List.of("--template", cases.get("template").asText()));
            }
            Result r = CliTest.vl4j(args.toArray(String[]::new));
            assertEquals(0, r.code(), r.err());
            JsonNode out = JSON.readTree(r.out());
            assertEquals(family, out.get("family").asText());
            JsonNode ranked = out.get("labels");
            assertEquals(labels.size(), ranked.size());
            float[] scores = new float[labels.size()];
            float[] logits = new float[labels.size()];
            double previous = Double.POSITIVE_INFINITY;
            for (JsonNode entry : ranked) {
                int l = labels.indexOf(entry.get("label").asText());
                scores[l] = (float) entry.get("score").asDouble();
                logits[l] = (float) entry.get("logit").asDouble();
                assertTrue(entry.get("score").asDouble() <= previous, "ranked by score: " + r.out());
                previous = entry.get("score").asDouble();
            }
            assertClose(f, family + " classify probs[" + i + "]", scores, row(f, "probs", i));
            assertClose(f, family + " classify logits[" + i + "]", logits, row(f, "logits_per_image", i));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"siglip", "clip"})
    void embedImageAndText(String family) throws IOException {
        Path f = fixture(family);
        JsonNode cases = cases(f);
        String model = f.resolve("model").toString();
        Result image = CliTest.vl4j("embed", "--model", model, "--image", f.resolve("images").resolve(cases.get("images").get(0).asText()).toString(), "--json");
        assertEquals(0, image.code(), image.err());
        JsonNode out = JSON.readTree(image.out());
        assertEquals("image", out.get("input").asText());
        assertClose(f, family + " embed --image", floats(out.get("embedding")), row(f, "image_embeds", 0));
        assertEquals(out.get("embedding").size(), out.get("dim").asInt());
        String text = cases.get("texts").get(1).asText();
        Result t = CliTest.vl4j("embed", "--model", model, "--text", text, "--json");
        assertEquals(0, t.code(), t.err());
        JsonNode textOut = JSON.readTree(t.out());
        assertClose(f, family + " embed --text", floats(textOut.get("embedding")), row(f, "text_embeds", 1));
        assertEquals(cases.get("input_ids").get(1).get(0).asInt(), textOut.get("input_ids").get(0).asInt());
        // without --json: the same numbers on one line
        Result plain = CliTest.vl4j("embed", "--model", model, "--text", text);
        assertEquals(0, plain.code(), plain.err());
        String[] values = plain.out().trim().split(" ");
        assertEquals(textOut.get("dim").asInt(), values.length);
        assertEquals(textOut.get("embedding").get(0).floatValue(), Float.parseFloat(values[0]));
    }

    @Test
    void classifyPlainTable() {
        Path f = Fixtures.ZEROSHOT_CLIP;
        Result r = CliTest.vl4j("classify", "-m", f.resolve("model").toString(), "-i", f.resolve("images/dog_150x97.png").toString(),
                "--labels", "cat, dog");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(3, lines.size(), r.out());
        assertTrue(lines.get(0).startsWith("score"), r.out());
        assertTrue(lines.get(1).endsWith("  cat") || lines.get(1).endsWith("  dog"), r.out());
    }

    /** bench on a SigLIP/CLIP folder times zero-shot classification against a cached label set (structure only, no timing claims). */
    @Test
    void benchModeForZeroShotModels() throws IOException {
        Result r = CliTest.vl4j("bench", "--model", Fixtures.ZEROSHOT_CLIP.resolve("model").toString(), "--labels", "50", "--runs", "1",
                "--json", "--quiet");
        assertEquals(0, r.code(), r.err());
        JsonNode out = JSON.readTree(r.out());
        assertEquals("clip", out.get("family").asText());
        assertEquals(50, out.get("labels").asInt());
        for (String stage : List.of("preprocess_s", "image_encode_s", "scoring_s", "classify_s")) {
            assertTrue(out.get("stages_s").has(stage), stage + " in " + r.out());
        }
        assertTrue(out.has("label_set_s") && out.has("classify_overhead_s"), r.out());
    }

    /** serve --zero-shot-model: /v1/embeddings answers with the CLIP model beside the chat model. */
    @Test
    void serveWithAZeroShotModel() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CompletableFuture<Integer> serve = CompletableFuture.supplyAsync(() -> Main.execute(
                new String[] {"serve", "--model", Fixtures.TINY_13B_MODEL.toString(), "--zero-shot-model",
                        Fixtures.ZEROSHOT_CLIP.resolve("model").toString(), "--port", "0"},
                new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8)));
        try {
            String url = ServeCommandTest.awaitUrl(err, serve);
            String text = cases(Fixtures.ZEROSHOT_CLIP).get("texts").get(3).asText();
            var reply = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url + "v1/embeddings"))
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.createObjectNode().put("input", text).toString())).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, reply.statusCode(), reply.body());
            JsonNode out = JSON.readTree(reply.body());
            assertClose(Fixtures.ZEROSHOT_CLIP, "serve /v1/embeddings", floats(out.get("data").get(0).get("embedding")),
                    row(Fixtures.ZEROSHOT_CLIP, "text_embeds", 3));
        } finally {
            if (ServeCommand.running != null) {
                ServeCommand.running.close();
            }
        }
        assertEquals(0, serve.get(30, TimeUnit.SECONDS));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("classify and embeddings with"), err.toString());
    }

    /** Each bad value gets one line naming the flag and the value, exit 2; the command with the value made valid runs. */
    @Test
    void badInputNamesTheFlag() {
        Path f = Fixtures.ZEROSHOT_SIGLIP;
        String model = f.resolve("model").toString();
        String image = f.resolve("images/synth_37x53.png").toString();
        Result empty = expectError("classify", "--model", model, "--image", image, "--labels", "");
        assertTrue(empty.err().contains("--labels: the label list is empty"), empty.err());
        Result blank = expectError("classify", "--model", model, "--image", image, "--labels", "cat,,dog");
        assertTrue(blank.err().contains("--labels: label 2 of 3 is empty"), blank.err());
        Result template = expectError("classify", "--model", model, "--image", image, "--labels", "cat,dog", "--template", "a photo");
        assertTrue(template.err().contains("--template: \"a photo\" has no {}"), template.err());
        Result missing = expectError("classify", "--model", model, "--image", f.resolve("images/nope.png").toString(), "--labels", "cat");
        assertTrue(missing.err().contains("--image ") && missing.err().contains("nope.png: image file not found"), missing.err());
        Result notZeroShot = CliTest.vl4j("classify", "--model", Fixtures.TINY_13B_MODEL.toString(), "--image", image, "--labels", "cat");
        assertEquals(1, notZeroShot.code(), notZeroShot.err());
        assertTrue(notZeroShot.err().contains("model_type is \"multi_modality\"; zero-shot classification needs a siglip or clip model"),
                notZeroShot.err());
        Result both = CliTest.vl4j("embed", "--model", model, "--image", image, "--text", "cat");
        assertEquals(2, both.code(), both.err());
        Result valid = CliTest.vl4j("classify", "--model", model, "--image", image, "--labels", "cat,dog", "--template", "a photo of {}");
        assertEquals(0, valid.code(), valid.err());
    }

    private static Result expectError(String... args) {
        Result r = CliTest.vl4j(args);
        assertEquals(2, r.code(), r.err());
        List<String> lines = r.err().lines().toList();
        assertEquals(1, lines.size(), "stderr should be one line: " + r.err());
        assertTrue(lines.getFirst().startsWith("vl4j: error: "), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        return r;
    }
}
