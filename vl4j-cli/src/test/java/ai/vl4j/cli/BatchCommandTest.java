package ai.vl4j.cli;

import static ai.vl4j.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.cli.CliTest.Result;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code vl4j batch} on the tiny 1.3B-style fixture: answers as {@code vl4j run}'s, resuming, errors, shards. */
class BatchCommandTest {
    static final Path MODEL = Fixtures.TINY_13B_MODEL;
    static final Path IMAGES = Fixtures.TINY_13B.resolve("images");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void answersEqualRunsForTheSameRequests() throws IOException {
        Path input = tmp.resolve("requests.jsonl");
        Path dog = IMAGES.resolve("dog_a.png");
        Path synth = IMAGES.resolve("synth_640x427_q90.jpg");
        Path small = IMAGES.resolve("tiny_37x91_rgba.png");
        Files.copy(dog, tmp.resolve("dog.png"));
        // relative paths, a data: URI-free mix of forms, per-request budgets; all greedy
        lines(input,
                "{\"id\": \"dog\", \"images\": [\"dog.png\"], \"prompt\": \"Describe this image.\", \"max_tokens\": 20}",
                "{\"id\": \"synth\", \"images\": [\"" + synth + "\"], \"prompt\": \"What is in the picture?\"}",
                "{\"id\": \"text\", \"prompt\": \"Write a haiku about the sea.\", \"max_tokens\": 12}",
                "{\"id\": \"two\", \"images\": [\"" + small + "\", \"dog.png\"], \"prompt\": \"<image_placeholder>and<image_placeholder>: compare.\"}",
                "{\"id\": \"messages\", \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \""
                        + small.toUri() + "\"}}, {\"type\": \"text\", \"text\": \"Describe this image.\"}]}], \"max_tokens\": 9}",
                "{\"id\": 7, \"images\": [\"" + small + "\"]}");
        Path out = tmp.resolve("results.jsonl");
        Result r = CliTest.vl4j("batch", "-m", MODEL.toString(), "--input", input.toString(), "--out", out.toString(),
                "--prompt", "What is this?", "--max-new-tokens", "16", "--max-batch", "3", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode summary = JSON.readTree(r.out());
        assertEquals(6, summary.get("answered").asInt(), r.out());
        assertEquals(0, summary.get("failed").asInt(), r.out());
        Map<String, JsonNode> results = results(out);
        assertEquals(Set.of("dog", "synth", "text", "two", "messages", "7"), results.keySet());

        assertSameAsRun(results.get("dog"), "-i", dog.toString(), "-p", "Describe this image.", "--max-new-tokens", "20");
        assertSameAsRun(results.get("synth"), "-i", synth.toString(), "-p", "What is in the picture?", "--max-new-tokens", "16");
        assertSameAsRun(results.get("text"), "-p", "Write a haiku about the sea.", "--max-new-tokens", "12");
        assertSameAsRun(results.get("two"), "-i", small.toString(), "-i", dog.toString(),
                "-p", "<image_placeholder>and<image_placeholder>: compare.", "--max-new-tokens", "16");
        assertSameAsRun(results.get("messages"), "-i", small.toString(), "-p", "Describe this image.", "--max-new-tokens", "9");
        assertSameAsRun(results.get("7"), "-i", small.toString(), "-p", "What is this?", "--max-new-tokens", "16");
    }

    @Test
    void folderOfImagesWithOnePrompt() throws IOException {
        Path folder = Files.createDirectories(tmp.resolve("photos/sub"));
        Files.copy(IMAGES.resolve("dog_a.png"), tmp.resolve("photos/dog.png"));
        Files.copy(IMAGES.resolve("synth_640x427_q90.jpg"), folder.resolve("synth.jpg"));
        Files.writeString(tmp.resolve("photos/notes.txt"), "not an image");
        Path out = tmp.resolve("out/results.jsonl");
        Result r = CliTest.vl4j("batch", "-m", MODEL.toString(), "--input", tmp.resolve("photos").toString(), "--out", out.toString(),
                "--max-new-tokens", "10");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("2 requests: 2 answered, 0 failed (1 files skipped"), r.err());
        Map<String, JsonNode> results = results(out);
        assertEquals(Set.of("dog.png", "sub/synth.jpg"), results.keySet());
        assertSameAsRun(results.get("sub/synth.jpg"), "-i", folder.resolve("synth.jpg").toString(), "-p", BatchCommand.DEFAULT_PROMPT,
                "--max-new-tokens", "10");
    }

    @Test
    void threeBrokenInputsAmongTwentyAreThreeErrorLines() throws IOException {
        Path folder = Files.createDirectories(tmp.resolve("photos"));
        List<Path> good = List.of(IMAGES.resolve("dog_a.png"), IMAGES.resolve("synth_640x427_q90.jpg"), IMAGES.resolve("tiny_37x91_rgba.png"));
        for (int i = 0; i < 17; i++) {
            Path src = good.get(i % good.size());
            Path dir = Files.createDirectories(folder.resolve("set" + i % 2));
            Files.copy(src, dir.resolve(String.format("img%02d.%s", i, src.toString().endsWith(".jpg") ? "jpg" : "png")));
        }
        byte[] png = Files.readAllBytes(good.getFirst());
        Files.write(folder.resolve("cut.png"), Arrays.copyOf(png, png.length / 3));       // truncated
        Files.writeString(folder.resolve("words.jpg"), "this is text, not a JPEG");         // not an image
        Files.write(folder.resolve("empty.webp"), new byte[0]);                           // empty
        Path out = tmp.resolve("results.jsonl");
        Result r = CliTest.vl4j("batch", "-m", MODEL.toString(), "--input", folder.toString(), "--out", out.toString(),
                "--max-new-tokens", "3", "--json");
        assertEquals(0, r.code(), r.err());
        Map<String, JsonNode> results = results(out);
        assertEquals(20, results.size());
        List<String> failed = new ArrayList<>();
        for (JsonNode line : results.values()) {
            if (line.get("error").isNull()) {
                assertEquals(3, line.get("completion_token_ids").size(), line.toString());
                assertTrue(line.get("text").isTextual());
            } else {
                failed.add(line.get("id").asText());
                assertTrue(line.get("text").isNull());
                assertTrue(line.get("error").asText().contains(line.get("id").asText()), line.toString());
            }
        }
        assertEquals(Set.of("cut.png", "words.jpg", "empty.webp"), new HashSet<>(failed));
        JsonNode summary = JSON.readTree(r.out());
        assertEquals(17, summary.get("answered").asInt());
        assertEquals(3, summary.get("failed").asInt());
        assertTrue(r.err().contains("20 requests: 17 answered, 3 failed"), r.err());
        // the errors were shown as they happened, each naming its file
        assertTrue(r.err().contains("vl4j: words.jpg: "), r.err());
        // run again: everything is done, nothing changes, the model is not even loaded
        Result again = CliTest.vl4j("batch", "-m", MODEL.toString(), "--input", folder.toString(), "--out", out.toString(), "--max-new-tokens", "3");
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains("20 done before"), again.err());
        assertEquals(20, Files.readAllLines(out).size());
    }

    @Test
    void badRequestLinesAreErrorsAndTheRestIsAnswered() throws IOException {
        Path input = tmp.resolve("requests.jsonl");
        lines(input,
                "{\"id\": \"ok\", \"prompt\": \"Hello\"}",
                "{\"id\": \"broken\", \"prompt\": ",
                "",
                "{\"id\": \"hot\", \"prompt\": \"Hello\", \"temperature\": 5}",
                "{\"id\": \"lost\", \"images\": [\"nowhere.png\"], \"prompt\": \"Hi\"}",
                "{\"id\": \"both\", \"prompt\": \"Hi\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}",
                "[1, 2]",
                "{\"id\": \"ok2\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}], \"stop\": [\"zzzz\"]}");
        Path out = tmp.resolve("results.jsonl");
        Result r = CliTest.vl4j("batch", "-m", MODEL.toString(), "--input", input.toString(), "--out", out.toString(), "--max-new-tokens", "2");
        assertEquals(0, r.code(), r.err());
        Map<String, JsonNode> results = results(out);
        assertEquals(Set.of("ok", "line-2", "hot", "lost", "both", "line-7", "ok2"), results.keySet());
        assertTrue(results.get("ok").get("error").isNull());
        assertTrue(results.get("ok2").get("error").isNull());
        assertError(results, "line-2", "requests.jsonl line 2: not valid JSON");
        assertError(results, "hot", "requests.jsonl line 4: temperature must be between 0 and 2");
        assertError(results, "lost", "nowhere.png: image file not found");
        assertError(results, "both", "give either messages, or prompt and images");
        assertError(results, "line-7", "requests.jsonl line 7: a request must be a JSON object");
    }

    @Test
    void shardsSplitTheInputWithoutOverlap() throws IOException {
        Path input = tmp.resolve("requests.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            lines.add("{\"id\": \"q" + i + "\", \"prompt\": \"Count to " + i + "\"}");
        }
        lines(input, lines.toArray(String[]::new));
        Path all = tmp.resolve("all.jsonl");
        assertEquals(0, CliTest.vl4j("batch", "-m", MODEL.toString(), "-i", input.toString(), "-o", all.toString(), "--max-new-tokens", "4").code());
        Map<String, JsonNode> whole = results(all);
        Set<String> union = new HashSet<>();
        for (int s = 1; s <= 3; s++) {
            Path out = tmp.resolve("shard" + s + ".jsonl");
            Result r = CliTest.vl4j("batch", "-m", MODEL.toString(), "-i", input.toString(), "-o", out.toString(), "--max-new-tokens", "4",
                    "--shard", s + "/3");
            assertEquals(0, r.code(), r.err());
            for (JsonNode line : results(out).values()) {
                String id = line.get("id").asText();
                assertTrue(union.add(id), id + " in two shards");
                assertEquals((Integer.parseInt(id.substring(1))) % 3, s - 1, id + " in shard " + s);
                assertEquals(whole.get(id).get("completion_token_ids"), line.get("completion_token_ids"));
            }
        }
        assertEquals(whole.keySet(), union);
        Result bad = CliTest.vl4j("batch", "-m", MODEL.toString(), "-i", input.toString(), "-o", all.toString(), "--shard", "0/3");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--shard takes I/N with 1 <= I <= N"), bad.err());
    }

    @Test
    void aCutOffLastLineIsRemovedAndItsRequestRunsAgain() throws IOException {
        Path input = tmp.resolve("requests.jsonl");
        lines(input, "{\"id\": \"a\", \"prompt\": \"One\"}", "{\"id\": \"b\", \"prompt\": \"Two\"}", "{\"id\": \"c\", \"prompt\": \"Three\"}");
        Path out = tmp.resolve("results.jsonl");
        assertEquals(0, CliTest.vl4j("batch", "-m", MODEL.toString(), "-i", input.toString(), "-o", out.toString(), "--max-new-tokens", "5").code());
        Map<String, JsonNode> whole = results(out);
        // keep a's line whole and the start of another one, as a job killed while writing it leaves the file
        List<String> written = Files.readAllLines(out);
        String keep = written.stream().filter(l -> l.contains("\"id\":\"a\"")).findFirst().orElseThrow();
        String cut = written.stream().filter(l -> !l.contains("\"id\":\"a\"")).findFirst().orElseThrow();
        Files.writeString(out, keep + "\n" + cut.substring(0, cut.length() / 2));
        Result r = CliTest.vl4j("batch", "-m", MODEL.toString(), "-i", input.toString(), "-o", out.toString(), "--max-new-tokens", "5");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("removed a cut-off last line"), r.err());
        assertTrue(r.err().contains("3 requests: 2 answered, 0 failed, 1 done before"), r.err());
        Map<String, JsonNode> resumed = results(out);
        assertEquals(whole, resumed);
    }

    @Test
    void problemsWithTheJobAsAWholeEndIt() throws IOException {
        Path input = tmp.resolve("requests.jsonl");
        lines(input, "{\"id\": \"a\", \"prompt\": \"One\"}", "{\"id\": \"a\", \"prompt\": \"Two\"}");
        Path out = tmp.resolve("results.jsonl");
        Result dup = CliTest.vl4j("batch", "-m", MODEL.toString(), "-i", input.toString(), "-o", out.toString());
        assertEquals(2, dup.code());
        assertTrue(dup.err().contains("requests.jsonl line 2: id \"a\" is already used by requests.jsonl line 1"), dup.err());

        lines(input, "{\"id\": \"a\", \"prompt\": \"One\"}");
        Path other = tmp.resolve("other.jsonl");
        Files.writeString(other, "some notes\n");
        Result notResults = CliTest.vl4j("batch", "-m", MODEL.toString(), "-i", input.toString(), "-o", other.toString());
        assertEquals(2, notResults.code());
        assertTrue(notResults.err().contains("other.jsonl line 1: not a result line of vl4j batch"), notResults.err());
        assertEquals("some notes\n", Files.readString(other));

        Result missing = CliTest.vl4j("batch", "-m", MODEL.toString(), "-i", tmp.resolve("nope").toString(), "-o", out.toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("nope: no such folder or file"), missing.err());
        Result noOut = CliTest.vl4j("batch", "-m", MODEL.toString(), "-i", input.toString());
        assertEquals(2, noOut.code());
        assertTrue(noOut.err().contains("--out"), noOut.err());
    }

    /**
     * A real {@code vl4j batch} process killed with SIGKILL once some answers are written, then run again with the
     * same --out: every id exactly once, the lines written before the kill kept as they were.
     */
    @Test
    void aKilledJobResumesWithNothingLostOrDuplicated() throws Exception {
        Path input = tmp.resolve("requests.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            String image = IMAGES.resolve(i % 2 == 0 ? "dog_a.png" : "tiny_37x91_rgba.png").toString();
            lines.add("{\"id\": \"r" + i + "\", \"images\": [\"" + image + "\"], \"prompt\": \"Describe image " + i + ".\"}");
        }
        lines(input, lines.toArray(String[]::new));
        Path out = tmp.resolve("results.jsonl");
        String[] job = {"batch", "-m", MODEL.toString(), "-i", input.toString(), "-o", out.toString(), "--max-new-tokens", "32",
                "--max-batch", "2", "--quiet"};

        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")), Main.class.getName()));
        command.addAll(List.of(job));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(tmp.resolve("job.log").toFile()).start();
        int written = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (written < 2 && process.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(5);
            written = Files.exists(out) ? (int) Files.readString(out).chars().filter(c -> c == '\n').count() : 0;
        }
        assertTrue(process.isAlive(), "the job ended before it could be killed: " + Files.readString(tmp.resolve("job.log")));
        process.destroyForcibly();                                  // SIGKILL
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        assertEquals(137, process.exitValue(), "killed by SIGKILL");
        String content = Files.readString(out);
        String kept = content.substring(0, content.lastIndexOf('\n') + 1);     // a line cut off by the kill is redone
        long before = kept.lines().count();
        assertTrue(before >= 2 && before < 20, before + " results before the kill");

        Result resumed = CliTest.vl4j(job);
        assertEquals(0, resumed.code(), resumed.err());
        List<String> ids = new ArrayList<>();
        for (String line : Files.readAllLines(out)) {
            ids.add(JSON.readTree(line).get("id").asText());
        }
        assertEquals(20, ids.size(), "one line per request: " + ids);
        assertEquals(20, new HashSet<>(ids).size(), "no id twice: " + ids);
        assertTrue(Files.readString(out).startsWith(kept), "earlier lines kept");
    }

    private static void assertError(Map<String, JsonNode> results, String id, String message) {
        JsonNode line = results.get(id);
        assertNotNull(line, id);
        assertTrue(line.get("error").asText().contains(message), line.toString());
        assertTrue(line.get("completion_token_ids").isNull());
    }

    /** The result equals `vl4j run --json` with these arguments: the same ids, text, counts and finish reason. */
    private static void assertSameAsRun(JsonNode result, String... runArgs) throws IOException {
        List<String> args = new ArrayList<>(List.of("run", "-m", MODEL.toString(), "--json"));
        args.addAll(List.of(runArgs));
        Result run = CliTest.vl4j(args.toArray(String[]::new));
        assertEquals(0, run.code(), run.err());
        JsonNode expected = JSON.readTree(run.out());
        String id = result.get("id").asText();
        assertTrue(result.get("error").isNull(), result.toString());
        assertArrayEquals(ints(expected.get("completion_token_ids")), ints(result.get("completion_token_ids")), id);
        assertEquals(expected.get("text").asText(), result.get("text").asText(), id);
        assertEquals(expected.get("prompt_tokens").asInt(), result.get("prompt_tokens").asInt(), id);
        assertEquals(expected.get("completion_tokens").asInt(), result.get("completion_tokens").asInt(), id);
        assertEquals(expected.get("finish_reason").asText(), result.get("finish_reason").asText(), id);
        assertFalse(result.get("completion_token_ids").isEmpty(), id);
    }

    /** The results file's lines by id; fails on a line that is not JSON or an id written twice. */
    static Map<String, JsonNode> results(Path out) throws IOException {
        Map<String, JsonNode> byId = new HashMap<>();
        for (String line : Files.readAllLines(out, StandardCharsets.UTF_8)) {
            ObjectNode node = (ObjectNode) JSON.readTree(line);
            String id = node.get("id").asText();
            assertTrue(byId.put(id, node) == null, "id " + id + " twice in " + out);
        }
        return byId;
    }

    private static void lines(Path file, String... lines) throws IOException {
        Files.writeString(file, String.join("\n", lines) + "\n");
    }
}
