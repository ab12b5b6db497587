package ai.vl4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * First contact through a real process (the JVM's own start-up output included): a successful {@code run -q}
 * prints nothing on stderr, and every error is one line starting {@code vl4j: error:}, without a stack trace.
 */
class CliProcessTest {
    static final String MODEL = Fixtures.TINY_13B_MODEL.toAbsolutePath().toString();

    @TempDir
    Path tmp;

    @Test
    void quietRunPrintsOnlyTheAnswer() {
        Vl4jProcess.Result r = Vl4jProcess.run("run", "-q", "-m", MODEL, "-i",
                Fixtures.TINY_13B.resolve("images/dog_a.png").toAbsolutePath().toString(), "--max-new-tokens", "3", "Describe this image.");
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        assertFalse(r.out().isBlank());
    }

    @Test
    void errorsAreOneLine() throws IOException {
        oneLineError(Vl4jProcess.run("run", "--bogus"), 2, "vl4j: error: Unknown option: '--bogus' (see 'vl4j run --help')");

        byte[] jpeg = Files.readAllBytes(Fixtures.TINY_13B.resolve("images/synth_640x427_q90.jpg"));
        Path cut = tmp.resolve("cut.jpg");
        Files.write(cut, Arrays.copyOf(jpeg, jpeg.length / 2));
        oneLineError(Vl4jProcess.run("run", "-q", "-m", MODEL, "-i", cut.toString(), "What is this?"), 2,
                "vl4j: error: " + cut + ": the JPEG file is truncated (it ends before the image data does)");

        Path model = Files.createDirectories(tmp.resolve("model"));
        try (Stream<Path> files = Files.list(Fixtures.TINY_13B_MODEL)) {
            for (Path f : files.toList()) {
                Files.copy(f, model.resolve(f.getFileName()));
            }
        }
        Files.writeString(model.resolve("config.json"), "{\"model_type\": \"multi_modality\",\n \"language_config\": }");
        Vl4jProcess.Result r = Vl4jProcess.run("run", "-q", "-m", model.toString(), "hi");
        oneLineError(r, 1, "vl4j: error: " + model.resolve("config.json") + ": not valid JSON: unexpected character '}' (expected a value: "
                + "a string, number, array, object, true, false or null) at line 2, column 21");
    }

    @Test
    void verboseAddsTheStackTrace() {
        Vl4jProcess.Result r = Vl4jProcess.run("run", "--verbose", "-m", tmp.resolve("nope").toString(), "hi");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("\tat ai.vl4j"), r.err());
        assertTrue(r.err().strip().lines().toList().getLast().startsWith("vl4j: error: "), r.err());
    }

    static void oneLineError(Vl4jProcess.Result r, int code, String line) {
        assertEquals(code, r.code(), r.err());
        List<String> lines = r.err().lines().toList();
        assertEquals(List.of(line), lines, "stderr should be exactly one line");
    }
}
