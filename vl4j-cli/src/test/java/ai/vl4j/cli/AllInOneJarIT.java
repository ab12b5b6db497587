package ai.vl4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The all-in-one jar as a user runs it, after the package phase: plain {@code java -jar} with no flags (the launcher
 * adds the Vector API module by starting the JVM again) answers the fixture model.
 */
class AllInOneJarIT {
    @Test
    void javaDashJarRunsTheCommand() throws IOException, InterruptedException {
        Path jar = Path.of(System.getProperty("vl4j.allInOneJar"));
        assertTrue(Files.isRegularFile(jar), jar + " was not built");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(List.of(java.toString(), "-jar", jar.toString(), "run", "-m",
                Fixtures.TINY_13B_MODEL.toString(), "-i", Fixtures.TINY_13B.resolve("images/dog_a.png").toString(),
                "--max-new-tokens", "3", "--json", "Describe this image.")).redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err);
        assertTrue(out.contains("\"completion_tokens\":3"), out + err);
    }
}
