package ai.vl4j.train.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.InvalidInputException;
import ai.vl4j.vlm.ModelConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every class of bad line is a {@link BadSampleException} whose one-line message starts with
 * {@code FILE:LINE:} and names the field; with skipBad such lines are skipped and counted instead.
 */
class BadDataTest {
    static final String GOOD = "{\"text\": \"A good line.\"}";
    static SampleEncoder encoder;
    @TempDir
    static Path dir;

    @BeforeAll
    static void setUp() throws IOException {
        encoder = new SampleEncoder(Fixtures.tokenizer(), ModelConfig.load(Fixtures.TINY_13B_MODEL));
        Files.createDirectories(dir.resolve("images"));
        Files.copy(Fixtures.TESTDATA.resolve("formats/rgb.png"), dir.resolve("images/a.png"));
        Files.writeString(dir.resolve("images/notes.png"), "this is not a picture");
    }

    static Stream<Arguments> badLines() {
        String u = "{\"role\": \"User\", \"content\": \"Hi\"}";
        String a = "{\"role\": \"Assistant\", \"content\": \"Hello.\"}";
        return Stream.of(
                Arguments.of("broken JSON", "{\"text\": \"unfinished\"", null, "not valid JSON"),
                Arguments.of("two objects on a line", "{\"text\": \"a\"} {\"text\": \"b\"}", null, "not valid JSON"),
                Arguments.of("duplicate key", "{\"text\": \"a\", \"text\": \"b\"}", null, "Duplicate field"),
                Arguments.of("not an object", "[\"text\", \"a\"]", null, "expected a JSON object, got an array"),
                Arguments.of("both text and conversations", "{\"text\": \"a\", \"conversations\": [" + u + ", " + a + "]}",
                        "text", "both text and conversations"),
                Arguments.of("neither", "{\"images\": []}", null, "neither text nor conversations"),
                Arguments.of("empty text", "{\"text\": \" \\n \"}", "text", "is empty"),
                Arguments.of("text not a string", "{\"text\": 42}", "text", "must be a string, got a number"),
                Arguments.of("images not an array", "{\"images\": \"images/a.png\", \"text\": \"<image_placeholder>x\"}",
                        "images", "must be an array"),
                Arguments.of("image path not a string", "{\"images\": [7], \"text\": \"<image_placeholder>x\"}",
                        "images[0]", "path string"),
                Arguments.of("missing image", "{\"images\": [\"images/a.png\", \"images/gone.png\"], "
                        + "\"text\": \"<image_placeholder>x<image_placeholder>\"}", "images[1]", "image file not found"),
                Arguments.of("not an image", "{\"images\": [\"images/notes.png\"], \"text\": \"<image_placeholder>x\"}",
                        "images[0]", "not an image"),
                Arguments.of("more placeholders than images", "{\"images\": [\"images/a.png\"], "
                        + "\"text\": \"<image_placeholder>x<image_placeholder>\"}", "images", "1 image but 2 <image_placeholder> tags"),
                Arguments.of("images without placeholders", "{\"images\": [\"images/a.png\"], \"text\": \"A caption.\"}",
                        "images", "1 image but 0 <image_placeholder> tags"),
                Arguments.of("placeholder without image", "{\"text\": \"<image_placeholder>A caption.\"}",
                        "images", "0 images but 1 <image_placeholder> tag"),
                Arguments.of("conversation count mismatch", "{\"images\": [\"images/a.png\", \"images/a.png\"], \"conversations\": ["
                        + "{\"role\": \"User\", \"content\": \"<image_placeholder>What?\"}, " + a + "]}",
                        "images", "2 images but 1 <image_placeholder> tag in the User turns"),
                Arguments.of("placeholder in an answer", "{\"images\": [\"images/a.png\"], \"conversations\": [" + u
                        + ", {\"role\": \"Assistant\", \"content\": \"<image_placeholder>\"}]}",
                        "conversations[1].content", "in an Assistant turn"),
                Arguments.of("starts with Assistant", "{\"conversations\": [" + a + ", " + u + "]}",
                        "conversations[0].role", "expected \"User\", got \"Assistant\""),
                Arguments.of("two User turns", "{\"conversations\": [" + u + ", " + u + ", " + a + "]}",
                        "conversations[1].role", "expected \"Assistant\", got \"User\""),
                Arguments.of("ends with User", "{\"conversations\": [" + u + ", " + a + ", " + u + "]}",
                        "conversations", "ends with a User turn"),
                Arguments.of("lower-case role", "{\"conversations\": [{\"role\": \"user\", \"content\": \"Hi\"}, " + a + "]}",
                        "conversations[0].role", "\"user\" is not a role"),
                Arguments.of("missing role", "{\"conversations\": [{\"content\": \"Hi\"}, " + a + "]}",
                        "conversations[0].role", "got nothing"),
                Arguments.of("empty content", "{\"conversations\": [" + u + ", {\"role\": \"Assistant\", \"content\": \"  \\t\"}]}",
                        "conversations[1].content", "is empty"),
                Arguments.of("content not a string", "{\"conversations\": [{\"role\": \"User\", \"content\": [\"Hi\"]}, " + a + "]}",
                        "conversations[0].content", "must be a string, got an array"),
                Arguments.of("empty conversation", "{\"conversations\": []}", "conversations", "an empty array"),
                Arguments.of("longer than the model's context", tooLongForTheModel(), null, "longer than the context of "
                        + ModelConfig.load(Fixtures.TINY_13B_MODEL).language().maxPositions() + " (the model's max_position_embeddings)"));
    }

    /** Enough images to pass the model's max_position_embeddings (29 × 576 > 16,384 for the tiny model). */
    private static String tooLongForTheModel() {
        ModelConfig config = ModelConfig.load(Fixtures.TINY_13B_MODEL);
        int n = config.language().maxPositions() / config.chatProcessor().numImageTokens() + 1;
        String images = String.join(", ", Collections.nCopies(n, "\"images/a.png\""));
        return "{\"images\": [" + images + "], \"text\": \"" + "<image_placeholder>".repeat(n) + "\"}";
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badLines")
    void badLineNamesFileLineAndField(String name, String line, String field, String problem) throws IOException {
        // the bad line is line 4: blank lines count
        Path file = write(name.replace(' ', '_') + ".jsonl", GOOD, "", GOOD, line, GOOD);
        BadSampleException e = assertThrows(BadSampleException.class, () -> TrainingData.open(file, encoder, DataOptions.DEFAULT));
        String message = e.getMessage();
        assertTrue(message.startsWith(file + ":4: " + (field == null ? "" : field + ": ")), message);
        assertTrue(message.contains(problem), message);
        assertFalse(message.contains("\n"), "one line: " + message);
        assertEquals(new SampleSource(file, 4), e.source());
        assertEquals(field, e.field());
        System.out.println("OK " + name + ": " + message);

        // skipBad: the line is skipped and counted, the others kept with their own line numbers
        try (TrainingData data = TrainingData.open(file, encoder, DataOptions.DEFAULT.withSkipBad(true))) {
            assertEquals(3, data.size());
            assertEquals(List.of(1, 3, 5), List.of(data.source(0).line(), data.source(1).line(), data.source(2).line()));
            assertEquals(1, data.report().skipped());
            assertEquals(List.of(message), data.report().reasons());
        }
    }

    @Test
    void givenContextLengthIsEnforced() throws IOException {
        Path file = write("long.jsonl", GOOD, "{\"text\": \"" + "word ".repeat(30) + "\"}");
        ModelConfig config = ModelConfig.load(Fixtures.TINY_13B_MODEL);
        SampleEncoder short20 = new SampleEncoder(Fixtures.tokenizer(), config, "", 20);
        BadSampleException e = assertThrows(BadSampleException.class, () -> TrainingData.open(file, short20, DataOptions.DEFAULT));
        assertTrue(e.getMessage().startsWith(file + ":2: the sample is 33 tokens"), e.getMessage());
        assertTrue(e.getMessage().endsWith("longer than the context of 20 (the given context length)"), e.getMessage());
        InvalidInputException tooBig = assertThrows(InvalidInputException.class,
                () -> new SampleEncoder(Fixtures.tokenizer(), config, "", config.language().maxPositions() + 1));
        assertTrue(tooBig.getMessage().contains("max_position_embeddings"), tooBig.getMessage());
    }

    @Test
    void theFirstBadLineIsReportedThoughLinesAreCheckedInParallel() throws IOException {
        String[] lines = new String[1500];   // more than one group of lines validated together
        for (int i = 0; i < lines.length; i++) {
            lines[i] = "{\"text\": \"line " + (i + 1) + "\"}";
        }
        for (int bad : new int[] {1400, 900, 1000}) {
            lines[bad - 1] = "{\"text\": \"\"}";
        }
        Path file = write("many.jsonl", lines);
        BadSampleException e = assertThrows(BadSampleException.class, () -> TrainingData.open(file, encoder, DataOptions.DEFAULT));
        assertEquals(file + ":900: text: is empty", e.getMessage());
        try (TrainingData data = TrainingData.open(file, encoder, DataOptions.DEFAULT.withSkipBad(true))) {
            assertEquals(List.of(file + ":900: text: is empty", file + ":1000: text: is empty", file + ":1400: text: is empty"),
                    data.report().reasons());
            assertEquals(lines.length - 3, data.size());
            assertEquals(new SampleSource(file, 901), data.source(899));
            assertEquals("line 1500", data.get(data.size() - 1).text());
        }
    }

    @Test
    void invalidUtf8IsABadLine() throws IOException {
        Path file = dir.resolve("latin1.jsonl");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes((GOOD + "\n").getBytes(StandardCharsets.UTF_8));
        out.writeBytes("{\"text\": \"caf".getBytes(StandardCharsets.UTF_8));
        out.write(0xE9);  // é in Latin-1
        out.writeBytes("\"}\n".getBytes(StandardCharsets.UTF_8));
        Files.write(file, out.toByteArray());
        BadSampleException e = assertThrows(BadSampleException.class, () -> TrainingData.open(file, encoder, DataOptions.DEFAULT));
        assertTrue(e.getMessage().startsWith(file + ":2: not valid UTF-8"), e.getMessage());
    }

    @Test
    void skipBadCountsEveryBadLineAndKeepsTheFirstReasons() throws IOException {
        List<String> bad = badLines().map(a -> (String) a.get()[1]).toList();
        String[] lines = new String[2 * bad.size() + 1];
        lines[0] = GOOD;
        for (int i = 0; i < bad.size(); i++) {
            lines[2 * i + 1] = bad.get(i);
            lines[2 * i + 2] = "{\"text\": \"good " + i + "\"}";
        }
        Path file = write("mixed.jsonl", lines);
        try (TrainingData data = TrainingData.open(file, encoder, new DataOptions(true, 3, ImageCheck.HEADER))) {
            DataReport r = data.report();
            assertEquals(bad.size() + 1, data.size());
            assertEquals(bad.size(), r.skipped());
            assertEquals(lines.length, r.lines());
            assertEquals(3, r.reasons().size());
            assertTrue(r.reasons().get(0).startsWith(file + ":2: "), r.reasons().get(0));
            assertTrue(r.reasons().get(2).startsWith(file + ":6: "), r.reasons().get(2));
            assertEquals(new SampleSource(file, lines.length), data.source(data.size() - 1));
            assertEquals("good " + (bad.size() - 1), data.get(data.size() - 1).text());
            assertTrue(r.summary().contains(bad.size() + " bad lines skipped"), r.summary());
        }
        Path allBad = write("all-bad.jsonl", bad.get(0), bad.get(1));
        InvalidInputException none = assertThrows(InvalidInputException.class,
                () -> TrainingData.open(allBad, encoder, DataOptions.DEFAULT.withSkipBad(true)));
        assertTrue(none.getMessage().contains("no samples (2 non-blank lines, 2 skipped; first: " + allBad + ":1: "), none.getMessage());
    }

    @Test
    void missingFileAndEmptyFile() throws IOException {
        Path missing = dir.resolve("nope.jsonl");
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> TrainingData.open(missing, encoder, DataOptions.DEFAULT));
        assertEquals(missing + ": file not found", e.getMessage());
        Path blank = write("blank.jsonl", "", "  ", "");
        InvalidInputException empty = assertThrows(InvalidInputException.class, () -> TrainingData.open(blank, encoder, DataOptions.DEFAULT));
        assertTrue(empty.getMessage().startsWith(blank + ": no samples (0 non-blank lines"), empty.getMessage());
    }

    @Test
    void textDataForTheMixerMustBeTextOnly() throws IOException {
        Path main = write("main.jsonl", "{\"images\": [\"images/a.png\"], \"text\": \"<image_placeholder>A caption.\"}");
        Path text = write("text.jsonl", GOOD, "{\"images\": [\"images/a.png\"], \"text\": \"<image_placeholder>Oops.\"}");
        try (TrainingData m = TrainingData.open(main, encoder, DataOptions.DEFAULT);
             TrainingData t = TrainingData.open(text, encoder, DataOptions.DEFAULT)) {
            BadSampleException e = assertThrows(BadSampleException.class, () -> DataLoader.mixed(m, t, 0.7, 2, true, 1));
            assertEquals(text + ":2: images: the text-only data holds a sample with images", e.getMessage());
        }
    }

    static Path write(String name, String... lines) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, String.join("\n", lines) + "\n");
        return file;
    }
}
