package ai.vl4j.train.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.tensor.DType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The written folders as the Python side sees them: {@code scripts/check_hf_layout.py} reads them as the safetensors
 * library and transformers do (and with PyTorch where it is installed). Skipped where there is no python3.
 */
class HfLayoutScriptTest {
    static final Path SCRIPT = Fixtures.TESTDATA.getParent().resolve("scripts/check_hf_layout.py");

    @TempDir
    Path tmp;

    @Test
    void writtenFoldersPassThePythonCheck() throws Exception {
        String python = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
        Assumptions.assumeTrue(runs(python, "-c", "import json, struct"), "no python3 here");

        Path sharded = tmp.resolve("sharded");
        ModelWriter.write(Fixtures.TINY_7B_MODEL, ModelWriterTest.replacements(Fixtures.TINY_7B_MODEL, 3, 11), sharded,
                ModelWriter.Options.of(DType.BF16).withMaxShardBytes(5_000_000));
        check(python, sharded, Fixtures.TINY_7B_MODEL);
        Path single = tmp.resolve("single");
        ModelWriter.write(Fixtures.TINY_13B_MODEL, ModelWriterTest.replacements(Fixtures.TINY_13B_MODEL, 2, 3), single,
                ModelWriter.Options.of(DType.F32));
        check(python, single, Fixtures.TINY_13B_MODEL);
        Path adapter = tmp.resolve("adapter");
        Adapter.read(AdapterTest.adapterInit("tiny-dsvl")).write(adapter);
        check(python, adapter, null);
        check(python, AdapterTest.adapterInit("tiny-dsvl"), null);   // the script itself accepts what PEFT wrote
    }

    private static void check(String python, Path out, Path source) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(python, SCRIPT.toString(), out.toString()));
        if (source != null) {
            cmd.add(source.toString());
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        System.out.print(output);
        assertEquals(0, p.waitFor(), output);
        assertTrue(output.startsWith("OK "), output);
    }

    private static boolean runs(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }
}
