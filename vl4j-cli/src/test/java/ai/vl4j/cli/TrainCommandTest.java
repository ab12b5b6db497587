package ai.vl4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.safetensors.SafetensorsFile;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vl4j train} and {@code vl4j loss} through the command line with the flags the issue names, on the
 * tiny-dsvl-1.3b stage-1 training fixture: the metrics' losses and gradient norms are the oracle's, the
 * dumped gradients its step-0 gradients, the saved aligner its final weights (README §9 rules), every frozen
 * tensor bit-identical; a run stopped after step 4 and resumed ends bit-identical to the uninterrupted one and
 * writes only steps 5..8; bad data gives one line and writes nothing.
 */
class TrainCommandTest {
    static final Path CASE = Fixtures.TESTDATA.resolve("train").resolve("tiny-dsvl-1.3b").resolve("stage1");
    static final Path DATA = Fixtures.TESTDATA.resolve("train").resolve("data").resolve("stage1.jsonl");
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    @TempDir
    Path tmp;

    private static List<String> flags(Path out, Path metrics) {
        return new ArrayList<>(List.of("train", "--model", Fixtures.TINY_13B_MODEL.toString(), "--data", DATA.toString(), "--stage", "1",
                "--steps", "8", "--lr", "0.002", "--warmup-steps", "2", "--schedule", "cosine", "--min-lr-ratio", "0.1",
                "--weight-decay", "0.1", "--betas", "0.9,0.95", "--eps", "1e-8", "--clip", "1.0", "--batch-size", "2", "--no-shuffle",
                "--save-dtype", "f32", "--out", out.toString(), "--metrics", metrics.toString(), "--quiet"));
    }

    @Test
    void stageOneFollowsTheOracleAndResumesExactly() throws IOException {
        JsonNode c = Fixtures.json(CASE.resolve("case.json"));
        Path out = tmp.resolve("out");
        Path metrics = tmp.resolve("metrics.jsonl");
        Path grads = tmp.resolve("grads.safetensors");
        List<String> args = flags(out, metrics);
        args.addAll(List.of("--dump-grads", grads.toString(), "--save-every", "4"));
        CliTest.Result r = CliTest.vl4j(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        // metrics: loss before each step and the gradient norm before clipping, as the oracle's
        List<JsonNode> lines = readLines(metrics);
        assertEquals(8, lines.size());
        for (int s = 1; s <= 8; s++) {
            JsonNode m = lines.get(s - 1);
            assertEquals(s, m.get("step").asInt());
            assertClose(c.get("losses").get("fp64").get(s - 1).asDouble(), m.get("loss").asDouble(), 5e-6, "loss before step " + s);
            assertClose(c.get("grad_norm_before_clip").get("fp64").get(s - 1).asDouble(), m.get("grad_norm").asDouble(), 1e-4, "norm " + s);
            assertClose(c.get("optimizer").get("lr_per_step").get(s - 1).asDouble(), m.get("lr").asDouble(), 1e-12, "lr " + s);
        }
        // step 1's unclipped gradients
        Map<String, Tensor> dumped = SafetensorsFile.open(grads, Arena.ofAuto()).tensors();
        Map<String, Tensor> ref = SafetensorsFile.open(CASE.resolve("grads_step0.safetensors"), Arena.ofAuto()).tensors();
        assertEquals(ref.keySet(), dumped.keySet());
        for (String name : ref.keySet()) {
            assertGrad(name, ref.get(name).toFloatArray(), dumped.get(name).toFloatArray());
        }
        // the saved model: trained tensors as the oracle's final ones, every other tensor bit-identical
        try (Weights trained = Weights.open(out); Weights base = Weights.open(Fixtures.TINY_13B_MODEL)) {
            Map<String, Tensor> finals = SafetensorsFile.open(CASE.resolve("final_weights.safetensors"), Arena.ofAuto()).tensors();
            double lrSum = 0;
            for (JsonNode lr : c.get("optimizer").get("lr_per_step")) {
                lrSum += lr.asDouble();
            }
            for (String name : base.tensors().keySet()) {
                Tensor t = trained.get(name);
                if (finals.containsKey(name)) {
                    assertFinal(name, base.get(name).toFloatArray(), finals.get(name).toFloatArray(), t.toFloatArray(), lrSum);
                } else {
                    assertEquals(base.get(name).dtype(), t.dtype(), name);
                    assertTrue(base.get(name).data().mismatch(t.data()) < 0, name + " changed, but it is frozen");
                }
            }
        }
        // vl4j loss of the saved model: the oracle's loss after 8 steps
        CliTest.Result loss = CliTest.vl4j("loss", "--model", out.toString(), "--data", DATA.toString(), "--json", "--quiet");
        assertEquals(0, loss.code(), loss.err());
        JsonNode l = JSON.readTree(loss.out());
        assertClose(c.get("losses").get("fp64").get(8).asDouble(), l.get("loss").asDouble(), 5e-6, "loss after 8 steps");
        assertEquals(c.get("n_supervised_total").asLong(), l.get("n_supervised").asLong());

        // resumed from checkpoint-4: steps 5..8 only, and the same bits at the end
        Path checkpoint = out.resolve("checkpoint-4");
        assertTrue(Files.isDirectory(checkpoint));
        Path out2 = tmp.resolve("out2");
        Path metrics2 = tmp.resolve("metrics2.jsonl");
        List<String> resumed = flags(out2, metrics2);
        resumed.addAll(List.of("--resume", checkpoint.toString()));
        CliTest.Result r2 = CliTest.vl4j(resumed.toArray(String[]::new));
        assertEquals(0, r2.code(), r2.err());
        List<JsonNode> later = readLines(metrics2);
        assertEquals(List.of(5, 6, 7, 8), later.stream().map(j -> j.get("step").asInt()).toList());
        for (int i = 0; i < 4; i++) {
            assertEquals(lines.get(4 + i).get("loss").asDouble(), later.get(i).get("loss").asDouble(), "loss of step " + (5 + i));
        }
        try (Weights a = Weights.open(out); Weights b = Weights.open(out2)) {
            for (String name : a.tensors().keySet()) {
                assertTrue(a.get(name).data().mismatch(b.get(name).data()) < 0, name + " differs after the resumed run");
            }
        }
    }

    @Test
    void badDataIsOneLineAndWritesNothing() throws IOException {
        Path bad = tmp.resolve("bad.jsonl");
        String images = DATA.getParent().resolve("images").toAbsolutePath() + "/";
        Files.writeString(bad, Files.readString(DATA).replace("\"images/", "\"" + images)
                + "{\"images\": [\"images/missing.png\"], \"text\": \"<image_placeholder>x\"}\n");
        Path out = tmp.resolve("never");
        List<String> args = flags(out, tmp.resolve("m.jsonl"));
        args.set(args.indexOf(DATA.toString()), bad.toString());
        CliTest.Result r = CliTest.vl4j(args.toArray(String[]::new));
        assertEquals(2, r.code(), r.err());
        List<String> err = r.err().lines().toList();
        assertEquals(1, err.size(), r.err());
        assertTrue(err.getFirst().startsWith("vl4j: error: ") && err.getFirst().contains("bad.jsonl:3"), r.err());
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(tmp.resolve("m.jsonl")));
    }

    private static List<JsonNode> readLines(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            if (!line.isBlank()) {
                out.add(JSON.readTree(line));
            }
        }
        return out;
    }

    private static void assertClose(double ref, double got, double rtol, String what) {
        assertTrue(Math.abs(got - ref) <= rtol * Math.abs(ref), what + ": " + got + " vs " + ref);
    }

    /** README §9: |x − ref| ≤ 5e-4·max|ref| + 5e-4·|ref|. */
    private static void assertGrad(String name, float[] ref, float[] got) {
        assertEquals(ref.length, got.length, name);
        double max = 0;
        for (float f : ref) {
            max = Math.max(max, Math.abs(f));
        }
        for (int i = 0; i < ref.length; i++) {
            assertTrue(Math.abs(got[i] - ref[i]) <= 5e-4 * max + 5e-4 * Math.abs(ref[i]), name + "[" + i + "] " + got[i] + " vs " + ref[i]);
        }
    }

    /** README §9: the update within 2 % of the oracle's in L2, no element off by more than Σ lr. */
    private static void assertFinal(String name, float[] init, float[] ref, float[] got, double lrSum) {
        double update = 0;
        double error = 0;
        for (int i = 0; i < ref.length; i++) {
            update += (ref[i] - (double) init[i]) * (ref[i] - (double) init[i]);
            error += ((double) got[i] - ref[i]) * ((double) got[i] - ref[i]);
            assertTrue(Math.abs(got[i] - ref[i]) <= lrSum, name + "[" + i + "] off by more than Σ lr");
        }
        assertTrue(Math.sqrt(error) <= 0.02 * Math.sqrt(update), name + ": update off by " + Math.sqrt(error) + " of " + Math.sqrt(update));
    }
}
