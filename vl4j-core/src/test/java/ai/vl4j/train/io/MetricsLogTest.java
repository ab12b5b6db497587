package ai.vl4j.train.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** metrics.jsonl: one line per record, on disk as soon as written; resuming after step K cuts what K does not cover. */
class MetricsLogTest {
    @TempDir
    Path tmp;

    @Test
    void eachRecordIsOneLineOnDiskAtOnce() throws IOException {
        Path file = tmp.resolve("runs/a/metrics.jsonl");
        try (MetricsLog log = MetricsLog.create(file)) {
            log.step(1, 11.682353888, 0.001, 2.522);
            assertEquals("{\"step\": 1, \"loss\": 11.682353888, \"lr\": 0.001, \"grad_norm\": 2.522}\n", Files.readString(file),
                    "visible before close");
            log.step(2, 11.5, 2e-05, 2.5);
        }
        assertEquals(List.of("{\"step\": 1, \"loss\": 11.682353888, \"lr\": 0.001, \"grad_norm\": 2.522}",
                "{\"step\": 2, \"loss\": 11.5, \"lr\": 2e-05, \"grad_norm\": 2.5}"), Files.readAllLines(file));
        try (MetricsLog log = MetricsLog.create(file)) {
            log.step(1, 1, 1, 1);
        }
        assertEquals(1, Files.readAllLines(file).size(), "create starts a new file");
    }

    @Test
    void resumeKeepsWhatTheCheckpointCoversAndAppendsTheRest() throws IOException {
        Path file = tmp.resolve("metrics.jsonl");
        String kept = """
                {"step": 1, "loss": 12.0, "lr": 0.001, "grad_norm": 3.0}
                # warm-up looked fine (a note)
                {"step": 2, "loss": 11.0, "lr": 0.002, "grad_norm": 2.0}
                {"step": 2, "eval_loss": 11.2}
                {"step": 3, "loss": 10.0, "lr": 0.0015, "grad_norm": 1.0}
                """;
        Files.writeString(file, kept + """
                {"step": 4, "loss": 9.5, "lr": 0.001, "grad_norm": 1.0}
                a note about step 4
                {"step": 5, "loss": 9.0, "lr": 0.0005, "grad_norm": 1.0}
                {"step": 6, "loss": 8.""");   // torn by a kill
        try (MetricsLog log = MetricsLog.resume(file, 3)) {
            assertEquals(kept, Files.readString(file));
            log.step(4, 9.25, 0.001, 1.5);
        }
        assertEquals(kept + "{\"step\": 4, \"loss\": 9.25, \"lr\": 0.001, \"grad_norm\": 1.5}\n", Files.readString(file));
        List<Long> steps = MetricsLog.read(file).stream().filter(r -> r.has("loss")).map(r -> r.get("step").asLong()).toList();
        assertEquals(List.of(1L, 2L, 3L, 4L), steps, "no step twice");

        // a torn last line of a covered step is cut too; a missing file is created
        Files.writeString(file, "{\"step\": 1, \"loss\": 1.0}\n{\"step\": 2, \"lo");
        MetricsLog.resume(file, 5).close();
        assertEquals("{\"step\": 1, \"loss\": 1.0}\n", Files.readString(file));
        Path fresh = tmp.resolve("new/metrics.jsonl");
        try (MetricsLog log = MetricsLog.resume(fresh, 4)) {
            log.step(5, 1, 1, 1);
        }
        assertTrue(Files.readString(fresh).startsWith("{\"step\": 5,"));
        assertEquals(0, MetricsLog.cutPosition(new byte[0], 3));
    }
}
