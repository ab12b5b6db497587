package ai.vl4j.cli;

import static ai.vl4j.Fixtures.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.safetensors.SafetensorsFile;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code vl4j segment} end to end on testdata/sam-tiny: every predictor case through --json (masks as RLE, IoU,
 * area, bbox against the official outputs; mask inputs fed back through --out's logits files), the --out files,
 * both automatic-generator runs through --auto --json, and one-line errors for bad prompts next to the same
 * command made valid.
 */
class SegmentCommandTest {
    static final Path FIXTURE = Fixtures.SAM_TINY;
    static final String MODEL = FIXTURE.resolve("model").toString();
    static final Map<String, Tensor> EXPECTED = SafetensorsFile.open(FIXTURE.resolve("expected/predictor.safetensors"), Arena.ofAuto()).tensors();

    static JsonNode cases() {
        return Fixtures.json(FIXTURE.resolve("expected/cases.json"));
    }

    static String image(String stem) {
        return FIXTURE.resolve("images/" + stem + ".png").toString();
    }

    static Stream<Arguments> promptCases() {
        List<Arguments> out = new ArrayList<>();
        cases().get("images").properties().forEach(image ->
                image.getValue().get("cases").fieldNames().forEachRemaining(c -> out.add(Arguments.of(image.getKey(), c))));
        return out.stream();
    }

    /** The case's prompt as flags: --point per point, --box, --single-mask. */
    static List<String> promptFlags(JsonNode spec) {
        List<String> args = new ArrayList<>();
        if (!spec.get("points").isNull()) {
            for (int i = 0; i < spec.get("points").size(); i++) {
                JsonNode p = spec.get("points").get(i);
                args.add("--point");
                args.add(p.get(0).asText() + "," + p.get(1).asText() + "," + spec.get("labels").get(i).asInt());
            }
        }
        if (!spec.get("box").isNull()) {
            JsonNode b = spec.get("box");
            args.add("--box");
            args.add(b.get(0).asText() + "," + b.get(1).asText() + "," + b.get(2).asText() + "," + b.get(3).asText());
        }
        if (!spec.get("multimask_output").asBoolean()) {
            args.add("--single-mask");
        }
        return args;
    }

    static CliTest.Result segment(List<String> args) {
        return CliTest.vl4j(args.toArray(String[]::new));
    }

    @ParameterizedTest
    @MethodSource("promptCases")
    void jsonMasksEqualTheOfficialPredictor(String stem, String caseName, @TempDir Path dir) {
        JsonNode images = cases().get("images").get(stem);
        JsonNode spec = images.get("cases").get(caseName);
        List<String> args = new ArrayList<>(List.of("segment", "-m", MODEL, "-i", image(stem), "--json"));
        args.addAll(promptFlags(spec));
        if (!spec.get("mask_input_from").isNull()) {
            // the official case fed back the best (argmax IoU) low-res mask of the source case's multimask prediction
            JsonNode source = images.get("cases").get(spec.get("mask_input_from").asText() + ".multi");
            List<String> first = new ArrayList<>(List.of("segment", "-m", MODEL, "-i", image(stem), "--json", "--out", dir.toString()));
            first.addAll(promptFlags(source));
            CliTest.Result r = segment(first);
            assertEquals(0, r.code(), r.err());
            JsonNode masks = readTree(r.out()).get("masks");
            int best = 0;
            for (int k = 1; k < masks.size(); k++) {
                if (masks.get(k).get("predicted_iou").asDouble() > masks.get(best).get("predicted_iou").asDouble()) {
                    best = k;
                }
            }
            args.add("--mask-input");
            args.add(dir.resolve("mask-" + best + ".logits.safetensors").toString());
        }
        CliTest.Result r = segment(args);
        assertEquals(0, r.code(), r.err());
        JsonNode masks = readTree(r.out()).get("masks");
        String key = stem + "." + caseName + ".";
        float[] iou = EXPECTED.get(key + "iou_predictions").toFloatArray();
        float[] logits = EXPECTED.get(key + "masks_logits").toFloatArray();
        int h = images.get("original_size").get(0).asInt();
        int w = images.get("original_size").get(1).asInt();
        assertEquals(iou.length, masks.size(), key + "masks");
        for (int k = 0; k < masks.size(); k++) {
            JsonNode m = masks.get(k);
            assertClose(key + "predicted_iou " + k, new float[] {(float) m.get("predicted_iou").asDouble()}, new float[] {iou[k]});
            assertArrayEquals(new int[] {h, w}, Fixtures.ints(m.get("rle").get("size")));
            boolean[] mask = decodeRle(Fixtures.ints(m.get("rle").get("counts")), h, w);
            int area = 0;
            int x0 = w, y0 = h, x1 = -1, y1 = -1;
            for (int i = 0; i < mask.length; i++) {
                float logit = logits[k * h * w + i];
                if (Math.abs(logit) > 1e-4) {
                    assertEquals(logit > 0, mask[i], key + "mask " + k + " pixel " + i);
                }
                if (mask[i]) {
                    area++;
                    x0 = Math.min(x0, i % w);
                    x1 = Math.max(x1, i % w);
                    y0 = Math.min(y0, i / w);
                    y1 = Math.max(y1, i / w);
                }
            }
            assertEquals(area, m.get("area").asInt(), key + "area " + k);
            assertArrayEquals(new int[] {x0, y0, x1 - x0, y1 - y0}, Fixtures.ints(m.get("bbox_xywh")), key + "bbox " + k);
        }
    }

    /** --out: one PNG per mask (the fixture's PNGs), its low-res logits as mask_input [1, s, s], and the overlay. */
    @Test
    void outWritesMaskPngsLogitsAndAnOverlay(@TempDir Path dir) throws IOException {
        String stem = "dog_150x97";
        JsonNode spec = cases().get("images").get(stem).get("cases").get("points_fg_bg.multi");
        List<String> args = new ArrayList<>(List.of("segment", "-m", MODEL, "-i", image(stem), "--out", dir.toString()));
        args.addAll(promptFlags(spec));
        CliTest.Result r = segment(args);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("mask 0: predicted_iou "), r.out());
        String key = stem + ".points_fg_bg.multi.";
        float[] logits = EXPECTED.get(key + "masks_logits").toFloatArray();
        float[] lowRes = EXPECTED.get(key + "low_res_logits").toFloatArray();
        RgbImage original = ImageLoader.load(image(stem));
        int pixels = original.width() * original.height();
        int side = (int) EXPECTED.get(key + "low_res_logits").shape()[1];
        for (int k = 0; k < 3; k++) {
            RgbImage png = ImageLoader.load(dir.resolve("mask-" + k + ".png"));
            RgbImage want = ImageLoader.load(FIXTURE.resolve("expected/masks/" + stem + ".points_fg_bg.multi." + k + ".png"));
            assertEquals(want.width(), png.width());
            assertEquals(want.height(), png.height());
            for (int i = 0; i < pixels; i++) {
                if (Math.abs(logits[k * pixels + i]) > 1e-4) {
                    assertEquals(want.rgb()[3 * i], png.rgb()[3 * i], "mask-" + k + ".png pixel " + i);
                }
            }
            Tensor t = SafetensorsFile.open(dir.resolve("mask-" + k + ".logits.safetensors"), Arena.ofAuto()).tensors().get("mask_input");
            assertArrayEquals(new long[] {1, side, side}, t.shape());
            float[] want2 = new float[side * side];
            System.arraycopy(lowRes, k * side * side, want2, 0, want2.length);
            assertClose("mask-" + k + ".logits.safetensors", t.toFloatArray(), want2);
        }
        RgbImage overlay = ImageLoader.load(dir.resolve("overlay.png"));
        assertEquals(original.height(), overlay.height());
        assertTrue(overlay.width() > 3 * original.width(), "three panels side by side");
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(7, files.filter(f -> !f.getFileName().toString().startsWith(".")).count(), "3 PNGs, 3 logits, 1 overlay");
        }
    }

    /** --auto --json against both official generator runs (records equal in number and order, RLE, area, boxes). */
    @Test
    void autoJsonEqualsTheOfficialGenerator(@TempDir Path dir) throws IOException {
        JsonNode runs = Fixtures.json(FIXTURE.resolve("expected/amg.json"));
        for (Map.Entry<String, JsonNode> run : runs.properties()) {
            JsonNode p = run.getValue().get("params");
            List<String> args = new ArrayList<>(List.of("segment", "-m", MODEL, "-i", FIXTURE.resolve("images/" + run.getValue().get("image").asText()).toString(),
                    "--auto", "--json", "--out", dir.resolve(run.getKey()).toString()));
            p.properties().forEach(e -> {
                args.add("--" + e.getKey().replace('_', '-'));
                args.add(e.getValue().asText());
            });
            CliTest.Result r = segment(args);
            assertEquals(0, r.code(), r.err());
            JsonNode got = readTree(r.out()).get("masks");
            JsonNode want = run.getValue().get("records");
            assertEquals(want.size(), got.size(), run.getKey() + " records");
            for (int i = 0; i < got.size(); i++) {
                JsonNode g = got.get(i);
                JsonNode e = want.get(i);
                String label = run.getKey() + " record " + i + " ";
                assertEquals(e.get("rle"), g.get("rle"), label + "rle");
                assertEquals(e.get("area").asInt(), g.get("area").asInt(), label + "area");
                assertArrayEquals(Fixtures.ints(e.get("bbox_xywh")), Fixtures.ints(g.get("bbox_xywh")), label + "bbox");
                assertArrayEquals(Fixtures.ints(e.get("crop_box_xywh")), Fixtures.ints(g.get("crop_box_xywh")), label + "crop box");
                assertEquals(e.get("point_coords").get(0).get(0).asDouble(), g.get("point_coords").get(0).get(0).asDouble(), 1e-9);
                assertEquals(e.get("point_coords").get(0).get(1).asDouble(), g.get("point_coords").get(0).get(1).asDouble(), 1e-9);
                assertClose(label + "predicted_iou", new float[] {(float) g.get("predicted_iou").asDouble()},
                        new float[] {(float) e.get("predicted_iou").asDouble()});
                assertClose(label + "stability_score", new float[] {(float) g.get("stability_score").asDouble()},
                        new float[] {(float) e.get("stability_score").asDouble()});
                assertTrue(Files.isRegularFile(dir.resolve(run.getKey()).resolve("mask-" + i + ".png")));
            }
            assertTrue(Files.isRegularFile(dir.resolve(run.getKey()).resolve("overlay.png")));
        }
    }

    /** --auto shows its progress on stderr (the crop's encoding, then points done of the grid), not with --json or -q. */
    @Test
    void autoShowsProgressExceptWithJsonOrQuiet() {
        String img = FIXTURE.resolve("images/synth_77x131.png").toString();
        List<String> auto = List.of("segment", "-m", MODEL, "-i", img, "--auto", "--points-per-side", "4", "--points-per-batch", "5");
        CliTest.Result r = segment(auto);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("crop 1/1: encoding the image"), r.err());
        assertTrue(r.err().contains("crop 1/1: points") && r.err().contains("16 / 16"), r.err());
        List<String> json = new ArrayList<>(auto);
        json.add("--json");
        r = segment(json);
        assertEquals(0, r.code(), r.err());
        assertFalse(r.err().contains("points"), r.err());
        List<String> quiet = new ArrayList<>(List.of("-q"));
        quiet.addAll(auto);
        r = segment(quiet);
        assertEquals(0, r.code(), r.err());
        assertFalse(r.err().contains("points"), r.err());
    }

    /** {@code vl4j serve --sam-model}: POST /v1/segment answers as {@code vl4j segment --json} does. */
    @Test
    void serveWithASamModelAnswersAsSegmentDoes() throws Exception {
        String img = image("dog_150x97");
        CliTest.Result cli = segment(List.of("segment", "-m", MODEL, "-i", img, "--point", "40,60,1", "--box", "10,20,80,140", "--json"));
        assertEquals(0, cli.code(), cli.err());
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CompletableFuture<Integer> serve = CompletableFuture.supplyAsync(() -> Main.execute(
                new String[] {"serve", "--model", Fixtures.TINY_13B_MODEL.toString(), "--sam-model", MODEL, "--port", "0"},
                new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8)));
        try {
            String url = null;
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (url == null && System.nanoTime() < deadline && !serve.isDone()) {
                Matcher m = Pattern.compile("serving .* at (http://\\S+/)").matcher(err.toString(StandardCharsets.UTF_8));
                url = m.find() ? m.group(1) : null;
                Thread.sleep(20);
            }
            assertTrue(url != null, "serve printed no URL: " + err);
            ObjectNode body = CliTest.JSON.createObjectNode();
            body.put("image", "data:image/png;base64," + Base64.getEncoder().encodeToString(Files.readAllBytes(Path.of(img))));
            body.putArray("points").addArray().add(40).add(60);
            body.putArray("labels").add(1);
            body.putArray("box").add(10).add(20).add(80).add(140);
            HttpResponse<String> reply = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(url + "v1/segment"))
                            .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, reply.statusCode(), reply.body());
            JsonNode served = readTree(reply.body()).get("masks");
            JsonNode printed = readTree(cli.out()).get("masks");
            assertEquals(printed.size(), served.size());
            for (int k = 0; k < served.size(); k++) {
                assertEquals(printed.get(k).get("rle"), served.get(k).get("rle"), "mask " + k);
                assertEquals(printed.get(k).get("bbox_xywh"), served.get(k).get("bbox_xywh"), "mask " + k);
                assertEquals(printed.get(k).get("predicted_iou").asDouble(), served.get(k).get("predicted_iou").asDouble(), 1e-5);
            }
        } finally {
            if (ServeCommand.running != null) {
                ServeCommand.running.close();
            }
        }
        assertEquals(0, serve.get(30, TimeUnit.SECONDS));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("POST /v1/segment 200"), err.toString());
    }

    /** A bad prompt: exit 2 and one line naming the field and the value; the same command made valid succeeds. */
    @Test
    void badPromptsNameTheFieldAndValueAndTheValidCommandWorks(@TempDir Path dir) throws IOException {
        String img = image("synth_77x131");           // 131 × 77
        List<String> base = List.of("segment", "-m", MODEL, "-i", img, "--json");
        assertBad(base, List.of("--point", "500,20,1"), List.of("--point", "100,20,1"), "point", "500");
        assertBad(base, List.of("--point", "10,-3,1"), List.of("--point", "10,3,1"), "point", "-3");
        assertBad(base, List.of("--point", "10,20,2"), List.of("--point", "10,20,0"), "label 2");
        assertBad(base, List.of("--point", "10,20,-1"), List.of("--point", "10,20,1"), "label -1");
        assertBad(base, List.of("--box", "50,10,20,40"), List.of("--box", "20,10,50,40"), "box", "x1 20 < x0 50");
        assertBad(base, List.of("--box", "20,40,50,10"), List.of("--box", "20,10,50,40"), "box", "y1 10 < y0 40");
        assertBad(base, List.of("--box", "20,10,500,40"), List.of("--box", "20,10,50,40"), "box", "500");
        assertBad(base, List.of("--point", "10,abc,1"), List.of("--point", "10,20,1"), "--point", "abc");

        // a mask input of another model's size, then one of this model's (written by --out)
        Path wrong = dir.resolve("wrong.safetensors");
        SafetensorsWriter.write(wrong, List.of(Tensor.ofFloats("mask_input", new float[64 * 64], 1, 64, 64)), Map.of());
        CliTest.Result first = segment(List.of("segment", "-m", MODEL, "-i", img, "--point", "10,20,1", "--out", dir.resolve("out").toString()));
        assertEquals(0, first.code(), first.err());
        assertBad(base, List.of("--mask-input", wrong.toString()), List.of("--mask-input", dir.resolve("out/mask-0.logits.safetensors").toString()),
                "mask_input", "[1, 64, 64]");

        // usage errors
        CliTest.Result r = segment(List.of("segment", "-m", MODEL, "-i", img));
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no prompt"), r.err());
        r = segment(List.of("segment", "-m", MODEL, "-i", img, "--auto", "--point", "1,2,1"));
        assertEquals(2, r.code());
        r = segment(List.of("segment", "-m", MODEL, "-i", img, "--point", "1,2,1", "--points-per-side", "4"));
        assertEquals(2, r.code());
        r = segment(List.of("segment", "-m", MODEL, "-i", img, "--auto", "--points-per-side", "0"));
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--points-per-side 0"), r.err());
    }

    private static void assertBad(List<String> base, List<String> bad, List<String> good, String... mentions) {
        List<String> args = new ArrayList<>(base);
        args.addAll(bad);
        CliTest.Result r = segment(args);
        assertEquals(2, r.code(), "exit code of " + bad + ": " + r.err());
        assertEquals("", r.out(), "nothing on stdout for " + bad);
        String err = r.err().strip();
        assertEquals(1, err.lines().count(), "one line for " + bad + ": " + err);
        assertFalse(err.contains("Exception"), err);
        for (String m : mentions) {
            assertTrue(err.contains(m), bad + ": '" + err + "' should name " + m);
        }
        List<String> fixed = new ArrayList<>(base);
        fixed.addAll(good);
        CliTest.Result ok = segment(fixed);
        assertEquals(0, ok.code(), good + ": " + ok.err());
        assertTrue(readTree(ok.out()).get("masks").size() == 3, ok.out());
    }

    static JsonNode readTree(String json) {
        try {
            return CliTest.JSON.readTree(json);
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + json, e);
        }
    }

    /** Column-major counts, zeros first, to a row-major mask. */
    static boolean[] decodeRle(int[] counts, int h, int w) {
        boolean[] mask = new boolean[h * w];
        int i = 0;
        for (int r = 0; r < counts.length; r++) {
            for (int j = 0; j < counts[r]; j++, i++) {
                if (r % 2 == 1) {
                    mask[(i % h) * w + i / h] = true;
                }
            }
        }
        assertEquals(h * w, i, "RLE counts sum to h·w");
        return mask;
    }
}
