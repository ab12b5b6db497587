package ai.vl4j.cli;

import static ai.vl4j.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The vl4j command end to end, in process: golden greedy ids through --json, and one-line errors. */
class CliTest {
    static final Path FIXTURE = Fixtures.TINY_13B;
    static final Path MODEL = Fixtures.TINY_13B_MODEL;
    static final ObjectMapper JSON = new ObjectMapper();

    record Result(int code, String out, String err) {
    }

    static Result vl4j(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static JsonNode json(Path file) {
        return Fixtures.json(file);
    }

    @ParameterizedTest
    @ValueSource(strings = {"dog_a__en", "dog_a__zh", "synth_640x427_q90__en", "tiny_37x91_rgba__zh", "dog_a+synth_640x427_q90__cmp"})
    void runJsonGivesTheGoldenGreedyTokens13b(String caseName) {
        assertGoldenRun(Fixtures.TINY_13B, caseName);
    }

    @ParameterizedTest
    @ValueSource(strings = {"dog_a__en", "dog_a__zh", "synth_640x427_q90__en", "synth_640x427_q90__zh", "tiny_37x91_rgba__en",
            "tiny_37x91_rgba__zh"})
    void runJsonGivesTheGoldenGreedyTokens7b(String caseName) {
        assertGoldenRun(Fixtures.TINY_7B, caseName);
    }

    /** `vl4j run --json` on a fixture case: the user content as --prompt, its images as --image, in order. */
    static void assertGoldenRun(Path fixture, String caseName) {
        Path dir = fixture.resolve("expected").resolve(caseName);
        JsonNode prompt = json(dir.resolve("prompt.json"));
        JsonNode greedy = json(dir.resolve("greedy.json"));
        Path model = fixture.resolve("model");
        List<String> args = new ArrayList<>(List.of("run", "--model", model.toString(), "--json",
                "--prompt", prompt.get("user_content").asText(), "--max-new-tokens", greedy.get("new_tokens").size() + ""));
        List<String> stems = new ArrayList<>();
        (prompt.has("images") ? prompt.get("images") : List.of(prompt.get("image"))).forEach(stem -> stems.add(stem.asText()));
        for (String stem : stems) {
            String file = json(fixture.resolve("expected").resolve(stem).resolve("image_meta.json")).get("file").asText();
            args.add("--image");
            args.add(fixture.resolve("images").resolve(file).toString());
        }
        Result r = vl4j(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        JsonNode out;
        try {
            out = JSON.readTree(r.out());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + r.out(), e);
        }
        assertArrayEquals(ints(greedy.get("new_tokens")), ints(out.get("completion_token_ids")), caseName);
        assertEquals(prompt.get("input_ids").size(), out.get("prompt_tokens").asInt());
        assertEquals("length", out.get("finish_reason").asText());
        assertEquals(model.toString(), out.get("model").asText());
        for (String key : List.of("prefill_s", "decode_s", "ttft_s", "vision_s")) {
            assertTrue(out.get("timings").has(key), "timings." + key);
        }
    }

    @Test
    void streamedTextEqualsJsonText() throws IOException {
        String image = FIXTURE.resolve("images/dog_a.png").toString();
        Result json = vl4j("run", "-m", MODEL.toString(), "-i", image, "-p", "Describe this image.", "--max-new-tokens", "12", "--json");
        Result text = vl4j("run", "-m", MODEL.toString(), "-i", image, "-p", "Describe this image.", "--max-new-tokens", "12");
        assertEquals(0, text.code(), text.err());
        assertEquals(JSON.readTree(json.out()).get("text").asText() + System.lineSeparator(), text.out());
    }

    @Test
    void tokenizeJson() throws IOException {
        Result r = vl4j("tokenize", "--model", MODEL.toString(), "--json", "Hello world");
        assertEquals(0, r.code(), r.err());
        JsonNode out = JSON.readTree(r.out());
        assertArrayEquals(new int[] {100000, 17464, 1843}, ints(out.get("ids")));
        assertEquals("Ġworld", out.get("tokens").get(2).asText());
        Result noBos = vl4j("tokenize", "--model", MODEL.toString(), "--no-bos", "--json", "Hello world");
        assertArrayEquals(new int[] {17464, 1843}, ints(JSON.readTree(noBos.out()).get("ids")));
    }

    @TempDir
    Path tmp;

    @Test
    void truncatedWeightsFile() throws IOException {
        Path model = copyModel();
        Path weights = model.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(weights);
        Files.write(weights, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        Result r = expectError(1, "run", "-m", model.toString(), "-p", "hi");
        assertTrue(r.err().contains("model.safetensors") && r.err().contains("out of range"), r.err());
    }

    @Test
    void configMissingAKey() throws IOException {
        Path model = copyModel();
        ObjectNode config = (ObjectNode) json(model.resolve("config.json"));
        config.remove("aligner_config");
        JSON.writeValue(model.resolve("config.json").toFile(), config);
        Result r = expectError(1, "run", "-m", model.toString(), "-p", "hi");
        assertTrue(r.err().contains("config.json: aligner_config is missing"), r.err());
    }

    @Test
    void fileThatIsNotAnImage() throws IOException {
        Path fake = tmp.resolve("cat.jpg");
        Files.writeString(fake, "meow");
        Result r = expectError(2, "run", "-m", MODEL.toString(), "-i", fake.toString(), "-p", "What is this?");
        assertTrue(r.err().contains("cat.jpg: not an image"), r.err());
    }

    /** A JPEG cut short is refused (the JDK's decoder alone would pad it with grey), as Pillow refuses it. */
    @Test
    void truncatedJpeg() throws IOException {
        byte[] jpeg = Files.readAllBytes(FIXTURE.resolve("images/synth_640x427_q90.jpg"));
        Path cut = tmp.resolve("cut.jpg");
        Files.write(cut, java.util.Arrays.copyOf(jpeg, jpeg.length * 3 / 4));
        Result r = expectError(2, "run", "-m", MODEL.toString(), "-i", cut.toString(), "-p", "What is this?");
        assertEquals("vl4j: error: " + cut + ": the JPEG file is truncated (it ends before the image data does)", r.err().strip());
    }

    /** A config.json that is not JSON: file, what and where, in our words (no parser internals). */
    @Test
    void configThatIsNotJson() throws IOException {
        Path model = copyModel();
        String config = Files.readString(model.resolve("config.json"));
        Files.writeString(model.resolve("config.json"), config.replaceFirst("\\{", "{\n  oops,"));
        Result r = expectError(1, "run", "-m", model.toString(), "-p", "hi");
        assertTrue(r.err().contains("config.json: not valid JSON: unexpected character 'o' (expected a double-quote to start a field name) "
                + "at line 2, column 3"), r.err());
        assertFalse(r.err().contains("Source:") || r.err().contains("REDACTED") || r.err().contains("`"), r.err());
    }

    @Test
    void moreImagesThanPlaceholders() {
        String image = FIXTURE.resolve("images/dog_a.png").toString();
        Result r = expectError(2, "run", "-m", MODEL.toString(), "-i", image, "-i", image, "-p", "<image_placeholder>What is this?");
        assertTrue(r.err().contains("the prompt has 1 <image_placeholder> tag but 2 images were given"), r.err());
    }

    @Test
    void promptLongerThanTheContext() throws IOException {
        Result r = expectError(2, "run", "-m", MODEL.toString(), "-p", "word ".repeat(17000));
        assertTrue(r.err().contains("but the model's context holds 16384"), r.err());
    }

    @Test
    void missingModelFolderAndBadFlags() {
        Result r = expectError(2, "run", "-m", tmp.resolve("nope").toString(), "-p", "hi");
        assertTrue(r.err().contains("model folder not found"), r.err());
        Result flags = expectError(2, "run", "--bogus");
        assertEquals("vl4j: error: Unknown option: '--bogus' (see 'vl4j run --help')", flags.err().strip());
        Result value = expectError(2, "run", "--max-new-tokens", "many", "-p", "hi");
        assertTrue(value.err().contains("'many' is not an int"), value.err());
        Result none = vl4j();
        assertEquals(2, none.code());
        assertTrue(none.err().startsWith("vl4j: error: missing command"), none.err());
        Result temp = expectError(2, "run", "-m", MODEL.toString(), "-p", "hi", "--temperature", "-1");
        assertTrue(temp.err().contains("temperature must be >= 0"), temp.err());
    }

    @Test
    void quantizeThenRunAndQuantizeAtLoad() throws IOException {
        Path out = tmp.resolve("q8");
        Result q = vl4j("quantize", "--model", Fixtures.TINY_7B_MODEL.toString(), "--out", out.toString(), "--type", "q8_0");
        assertEquals(0, q.code(), q.err());
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors")) && Files.isRegularFile(out.resolve("tokenizer.json")));
        String image = Fixtures.TINY_7B.resolve("images/dog_a.png").toString();
        Result run = vl4j("run", "-m", out.toString(), "-i", image, "-p", "Describe this image.", "--max-new-tokens", "4", "--json");
        assertEquals(0, run.code(), run.err());
        assertEquals(4, JSON.readTree(run.out()).get("completion_token_ids").size());
        Result atLoad = vl4j("run", "-m", Fixtures.TINY_7B_MODEL.toString(), "--quant", "q4_0", "-i", image, "-p", "Hi", "--max-new-tokens", "2", "--json");
        assertEquals(0, atLoad.code(), atLoad.err());
        Result bad = expectError(2, "run", "-m", MODEL.toString(), "--quant", "q3_k", "-p", "hi");
        assertTrue(bad.err().contains("unknown quantization q3_k"), bad.err());
        Result again = expectError(1, "quantize", "--model", Fixtures.TINY_7B_MODEL.toString(), "--out", out.toString());
        assertTrue(again.err().contains("already holds a model"), again.err());
    }

    @Test
    void bf16KvCacheOption() throws IOException {
        String image = Fixtures.TINY_7B.resolve("images/dog_a.png").toString();
        Result run = vl4j("run", "-m", Fixtures.TINY_7B_MODEL.toString(), "--kv-cache", "bf16", "-i", image, "-p", "Hi",
                "--max-new-tokens", "3", "--json");
        assertEquals(0, run.code(), run.err());
        assertEquals(3, JSON.readTree(run.out()).get("completion_token_ids").size());
        Result bad = expectError(2, "run", "-m", MODEL.toString(), "--kv-cache", "f8", "-p", "hi");
        assertTrue(bad.err().contains("--kv-cache must be f32 or bf16, got f8"), bad.err());
    }

    /**
     * --backend: the Java kernels and oneDNN (where installed) give the golden tokens; with the library hidden,
     * --backend dnnl says so in one line and the Java kernels answer; bench --json names the backend.
     */
    @Test
    void backendOption() throws IOException {
        Path dir = FIXTURE.resolve("expected").resolve("dog_a__en");
        JsonNode greedy = json(dir.resolve("greedy.json"));
        String image = FIXTURE.resolve("images/dog_a.png").toString();
        List<String> base = List.of("run", "-m", MODEL.toString(), "-i", image, "-p", json(dir.resolve("prompt.json")).get("user_content").asText(),
                "--max-new-tokens", greedy.get("new_tokens").size() + "", "--json");
        for (String backend : List.of("java", "dnnl", "auto")) {
            Result r = vl4j(Stream.concat(base.stream(), Stream.of("--backend", backend)).toArray(String[]::new));
            assertEquals(0, r.code(), r.err());
            assertArrayEquals(ints(greedy.get("new_tokens")), ints(JSON.readTree(r.out()).get("completion_token_ids")), backend);
        }
        System.setProperty("vl4j.dnnl", tmp.resolve("hidden/libdnnl.so.2").toString());
        try {
            Result hidden = vl4j(Stream.concat(base.stream(), Stream.of("--backend", "dnnl", "--verbose")).toArray(String[]::new));
            assertEquals(0, hidden.code(), hidden.err());
            assertArrayEquals(ints(greedy.get("new_tokens")), ints(JSON.readTree(hidden.out()).get("completion_token_ids")));
            assertEquals(List.of("vl4j: oneDNN library " + tmp.resolve("hidden/libdnnl.so.2") + " not found; using the Java kernels"),
                    hidden.err().lines().filter(l -> l.startsWith("vl4j: ")).toList());
            assertTrue(hidden.err().lines().anyMatch(l -> l.startsWith("backend java") && l.contains("unavailable")), hidden.err());
        } finally {
            System.clearProperty("vl4j.dnnl");
        }
        Result bench = vl4j("bench", "-m", MODEL.toString(), "--backend", "java", "--runs", "1", "--gen-tokens", "2", "--prompt-tokens", "12", "--json");
        assertEquals(0, bench.code(), bench.err());
        assertEquals("java", JSON.readTree(bench.out()).get("backend").asText());
        Result bad = expectError(2, "run", "-m", MODEL.toString(), "--backend", "cuda", "-p", "hi");
        assertTrue(bad.err().contains("--backend must be auto, java or dnnl, got cuda"), bad.err());
    }

    /**
     * --compute: bf16 without oneDNN stays float32 and says so in one line (bench --json reports the precision in
     * effect); a precision that does not exist is refused naming the flag.
     */
    @Test
    void computeOption() throws IOException {
        Result bench = vl4j("bench", "-m", MODEL.toString(), "--backend", "java", "--compute", "bf16", "--runs", "1", "--gen-tokens", "2",
                "--prompt-tokens", "12", "--json");
        assertEquals(0, bench.code(), bench.err());
        assertEquals("f32", JSON.readTree(bench.out()).get("compute").asText());
        assertEquals(List.of("vl4j: --compute bf16 needs the oneDNN backend (in effect: java); computing in float32"),
                bench.err().lines().filter(l -> l.startsWith("vl4j: ")).toList());
        Result bad = expectError(2, "run", "-m", MODEL.toString(), "--compute", "fp8", "-p", "hi");
        assertTrue(bad.err().contains("--compute must be f32 or bf16, got fp8"), bad.err());
    }

    @Test
    void verboseShowsTheStackTrace() {
        Result r = vl4j("run", "--verbose", "-m", tmp.resolve("nope").toString(), "-p", "hi");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("\tat ai.vl4j"), r.err());
    }

    /** One line on stderr naming the problem, no stack trace, the expected exit code (with -q: no progress displays). */
    private static Result expectError(int code, String... args) {
        String[] quiet = java.util.Arrays.copyOf(args, args.length + 1);
        quiet[args.length] = "-q";
        Result r = vl4j(quiet);
        assertEquals(code, r.code(), r.err());
        List<String> lines = r.err().lines().toList();
        assertEquals(1, lines.size(), "stderr should be one line: " + r.err());
        assertTrue(lines.getFirst().startsWith("vl4j: error: "), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        return r;
    }

    private Path copyModel() throws IOException {
        Path model = Files.createDirectories(tmp.resolve("model"));
        try (Stream<Path> files = Files.list(MODEL)) {
            for (Path f : files.toList()) {
                Files.copy(f, model.resolve(f.getFileName()));
            }
        }
        return model;
    }
}
