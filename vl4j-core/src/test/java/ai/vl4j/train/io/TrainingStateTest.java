package ai.vl4j.train.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.InvalidInputException;
import ai.vl4j.ModelFormatException;
import ai.vl4j.safetensors.SafetensorsFile;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** checkpoint-K folders: weights, AdamW moments and the trainer's state come back bit for bit; mismatches are refused. */
class TrainingStateTest {
    @TempDir
    Path tmp;

    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aLoraCheckpointComesBackBitForBit() throws IOException {
        Adapter adapter = Adapter.read(AdapterTest.adapterInit("tiny-dsvl-1.3b"));
        TrainingState state = new TrainingState(2, new TrainingState.LoraAdapter(adapter), moments(adapter.parameters(), 1),
                hyperParameters(), cursor(), rng(), List.of(record(1), record(2), diverged(3)));
        Path dir = TrainingState.checkpointDir(tmp.resolve("out"), 2);
        assertEquals(tmp.resolve("out/checkpoint-2"), dir);
        state.save(dir);
        assertEquals(List.of(Adapter.CONFIG_FILE, Adapter.WEIGHTS_FILE, TrainingState.OPTIMIZER_FILE, TrainingState.STATE_FILE),
                names(dir));
        // the adapter files are those of the adapter itself
        assertArrayEquals(Files.readAllBytes(AdapterTest.adapterInit("tiny-dsvl-1.3b").resolve(Adapter.WEIGHTS_FILE)),
                Files.readAllBytes(dir.resolve(Adapter.WEIGHTS_FILE)));
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile opt = SafetensorsFile.open(dir.resolve(TrainingState.OPTIMIZER_FILE), arena);
            String q = "base_model.model.language_model.model.layers.0.self_attn.q_proj.lora_A.weight";
            assertEquals(DType.F32, opt.tensors().get(q + ".exp_avg").dtype());
            assertArrayEquals(adapter.shapes().get(q), opt.tensors().get(q + ".exp_avg_sq").shape());
            assertEquals(2 * adapter.parameters().size(), opt.tensors().size());
            assertEquals(Map.of("format", "pt"), opt.metadata());
        }
        JsonNode stateJson = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build()
                .readTree(dir.resolve(TrainingState.STATE_FILE).toFile());
        assertEquals(PythonJson.pretty(stateJson) + "\n", Files.readString(dir.resolve(TrainingState.STATE_FILE)));
        assertEquals(2, stateJson.get("global_step").asInt());
        assertEquals("adapter", stateJson.get("weights").asText());

        TrainingState back = TrainingState.load(dir, adapter.shapes());
        assertSame(state, back);
        Adapter a2 = assertInstanceOf(TrainingState.LoraAdapter.class, back.weights()).adapter();
        assertEquals(adapter.config(), a2.config());
    }

    @Test
    void aFullModelCheckpointHoldsTheMasterWeightsInF32AndTheRestAsItWas() throws IOException {
        Path base = Fixtures.TINY_13B_MODEL;
        Map<String, float[]> trained = new TreeMap<>();
        Random r = new Random(3);
        try (Weights w = Weights.open(base)) {
            for (Tensor t : w.tensors().values()) {
                if (t.name().startsWith("aligner.")) {   // stage 1
                    float[] v = t.toFloatArray();
                    for (int i = 0; i < v.length; i++) {
                        v[i] += (float) (r.nextGaussian() * 1e-3);
                    }
                    trained.put(t.name(), v);
                }
            }
        }
        TrainingState state = new TrainingState(5, new TrainingState.FullModel(base, trained), moments(trained, 2),
                hyperParameters(), cursor(), rng(), List.of());
        Path dir = tmp.resolve("run/checkpoint-5");
        state.save(dir);
        Map<String, long[]> shapes = new TreeMap<>();
        try (Weights src = Weights.open(base); Weights ck = Weights.open(dir)) {
            for (Tensor t : src.tensors().values()) {
                Tensor c = ck.get(t.name());
                if (trained.containsKey(t.name())) {
                    assertEquals(DType.F32, c.dtype(), t.name());
                    shapes.put(t.name(), t.shape());
                } else {
                    assertEquals(t.dtype(), c.dtype());
                    assertArrayEquals(t.data().toArray(ValueLayout.JAVA_BYTE), c.data().toArray(ValueLayout.JAVA_BYTE), t.name());
                }
            }
        }
        for (String f : List.of("config.json", "tokenizer.json", "processor_config.json")) {
            assertTrue(Files.exists(dir.resolve(f)), f);
        }
        TrainingState back = TrainingState.load(dir, shapes);
        assertSame(state, back);
        assertEquals(dir, assertInstanceOf(TrainingState.FullModel.class, back.weights()).baseModel());
        try (DeepSeekVl vl = DeepSeekVl.load(dir)) {
            assertEquals(dir, vl.folder());
        }

        // saving again replaces the checkpoint whole
        new TrainingState(5, new TrainingState.FullModel(base, trained), moments(trained, 9), hyperParameters(), cursor(), rng(), List.of())
                .save(dir);
        TrainingState again = TrainingState.load(dir, shapes);
        assertFalse(java.util.Arrays.equals(state.moments().values().iterator().next().expAvg(),
                again.moments().values().iterator().next().expAvg()));
        try (Stream<Path> s = Files.list(dir.getParent())) {
            assertEquals(List.of("checkpoint-5"), s.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void aCheckpointOfAnotherRunIsRefusedInOneLine() throws IOException {
        Adapter adapter = Adapter.read(AdapterTest.adapterInit("tiny-dsvl-1.3b"));
        Path dir = tmp.resolve("checkpoint-3");
        new TrainingState(3, new TrainingState.LoraAdapter(adapter), moments(adapter.parameters(), 4), hyperParameters(), cursor(), rng(), List.of())
                .save(dir);
        Map<String, long[]> run = new TreeMap<>(adapter.shapes());
        String a0 = "base_model.model.language_model.model.layers.0.mlp.down_proj.lora_A.weight";

        Map<String, long[]> fewer = new TreeMap<>(run);
        fewer.remove(a0);
        var e = assertThrows(InvalidInputException.class, () -> TrainingState.load(dir, fewer));
        assertTrue(e.getMessage().startsWith(dir + ": ") && e.getMessage().contains("the checkpoint has 1 the run does not train (" + a0 + ")"), e.getMessage());

        Map<String, long[]> more = new TreeMap<>(run);
        more.put("language_model.lm_head.weight", new long[] {102400, 56});
        e = assertThrows(InvalidInputException.class, () -> TrainingState.load(dir, more));
        assertTrue(e.getMessage().contains("the run trains 1 the checkpoint lacks (language_model.lm_head.weight)"), e.getMessage());

        Map<String, long[]> otherShape = new TreeMap<>(run);
        otherShape.put(a0, new long[] {8, run.get(a0)[1]});
        e = assertThrows(InvalidInputException.class, () -> TrainingState.load(dir, otherShape));
        assertEquals(dir + ": tensor " + a0 + " has shape [4, " + run.get(a0)[1] + "] in the checkpoint but [8, " + run.get(a0)[1] + "] in this run",
                e.getMessage());

        // damaged checkpoints
        Path noOpt = copy(dir, "no-optimizer");
        Files.delete(noOpt.resolve(TrainingState.OPTIMIZER_FILE));
        var m = assertThrows(ModelFormatException.class, () -> TrainingState.load(noOpt, run));
        assertTrue(m.getMessage().contains(TrainingState.OPTIMIZER_FILE + ": file not found"), m.getMessage());

        Path noSq = copy(dir, "no-exp-avg-sq");
        Map<String, Tensor> kept = new TreeMap<>();
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile.open(noSq.resolve(TrainingState.OPTIMIZER_FILE), arena).tensors().forEach((k, t) -> {
                if (!k.equals(a0 + ".exp_avg_sq")) {
                    kept.put(k, Tensor.ofFloats(k, t.toFloatArray(), t.shape()));
                }
            });
        }
        SafetensorsWriter.write(noSq.resolve(TrainingState.OPTIMIZER_FILE), kept.values(), Map.of("format", "pt"));
        m = assertThrows(ModelFormatException.class, () -> TrainingState.load(noSq, run));
        assertTrue(m.getMessage().endsWith("missing tensor " + a0 + ".exp_avg_sq"), m.getMessage());

        e = assertThrows(InvalidInputException.class, () -> TrainingState.load(Fixtures.TINY_13B_MODEL, run));
        assertTrue(e.getMessage().contains("not a training checkpoint (no trainer_state.json)"), e.getMessage());
    }

    /** Trained tensors stored in BF16 cannot give an exact resume. */
    @Test
    void aFullModelCheckpointWithRoundedMasterWeightsIsRefused() throws IOException {
        Path base = Fixtures.TINY_13B_MODEL;
        String name = "aligner.layers.0.bias";
        float[] v;
        try (Weights w = Weights.open(base)) {
            v = w.get(name).toFloatArray();
        }
        Path dir = tmp.resolve("checkpoint-1");
        new TrainingState(1, new TrainingState.FullModel(base, Map.of(name, v)), moments(Map.of(name, v), 5), null, null, null, List.of()).save(dir);
        Files.copy(base.resolve("model.safetensors"), dir.resolve("model.safetensors"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        var e = assertThrows(ModelFormatException.class, () -> TrainingState.load(dir, Map.of(name, new long[] {v.length})));
        assertTrue(e.getMessage().contains("trained tensor " + name + " is BF16") && e.getMessage().contains("expected F32"), e.getMessage());
    }

    @Test
    void momentsMustBelongToTheTrainedTensors() {
        Map<String, float[]> t = Map.of("a", new float[2], "b", new float[3]);
        var e = assertThrows(IllegalArgumentException.class, () -> new TrainingState(1, new TrainingState.FullModel(Path.of("."), t),
                Map.of("a", new TrainingState.Moments(new float[2], new float[2])), null, null, null, List.of()));
        assertTrue(e.getMessage().contains("trained tensors only b"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TrainingState(1, new TrainingState.FullModel(Path.of("."), Map.of("a", new float[2])),
                Map.of("a", new TrainingState.Moments(new float[3], new float[3])), null, null, null, List.of()));
    }

    // ---------------------------------------------------------------------------------------------- helpers

    static void assertSame(TrainingState want, TrainingState got) {
        assertEquals(want.step(), got.step());
        assertEquals(want.hyperParameters(), got.hyperParameters());
        assertEquals(want.dataCursor(), got.dataCursor());
        assertEquals(want.rngState(), got.rngState());
        assertEquals(want.logHistory(), got.logHistory());
        assertEquals(want.weights().tensors().keySet(), got.weights().tensors().keySet());
        want.weights().tensors().forEach((k, v) -> assertBits(v, got.weights().tensors().get(k), k));
        assertEquals(want.moments().keySet(), got.moments().keySet());
        want.moments().forEach((k, m) -> {
            assertBits(m.expAvg(), got.moments().get(k).expAvg(), k + ".exp_avg");
            assertBits(m.expAvgSq(), got.moments().get(k).expAvgSq(), k + ".exp_avg_sq");
        });
    }

    static void assertBits(float[] want, float[] got, String label) {
        assertEquals(want.length, got.length, label);
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                throw new AssertionError(label + "[" + i + "]: " + got[i] + " instead of " + want[i]);
            }
        }
    }

    static Map<String, TrainingState.Moments> moments(Map<String, float[]> params, long seed) {
        Random r = new Random(seed);
        Map<String, TrainingState.Moments> out = new TreeMap<>();
        params.forEach((k, v) -> {
            float[] m = new float[v.length];
            float[] s = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                m[i] = (float) r.nextGaussian() * 1e-3f;
                s[i] = Float.intBitsToFloat(r.nextInt(0x3f000000));   // any positive float, subnormals included
            }
            out.put(k, new TrainingState.Moments(m, s));
        });
        return out;
    }

    static JsonNode hyperParameters() {
        ObjectNode h = JSON.createObjectNode();
        h.put("lr", 0.005).put("warmup_steps", 2).put("schedule", "cosine").put("min_lr_ratio", 0.1).put("eps", 1e-8);
        h.putArray("betas").add(0.9).add(0.95);
        return h;
    }

    static JsonNode cursor() {
        ObjectNode c = JSON.createObjectNode();
        c.put("seed", 42).put("drawn", 1234567890123456789L).put("text_ratio", 0.7).put("shuffle", true);
        return c;
    }

    static JsonNode rng() {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("state").add(-8_070_450_532_247_928_832L).add(Long.MAX_VALUE);
        return c;
    }

    static JsonNode record(int step) {
        return JSON.createObjectNode().put("step", step).put("loss", 12.0 / step).put("lr", 0.0025 * step).put("grad_norm", 1.3);
    }

    /** A step whose loss overflowed: Python writes NaN and Infinity, and so must the state file read them back. */
    static JsonNode diverged(int step) {
        return JSON.createObjectNode().put("step", step).put("loss", Double.NaN).put("lr", 0.0025).put("grad_norm", Double.POSITIVE_INFINITY);
    }

    static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private Path copy(Path dir, String name) throws IOException {
        Path out = tmp.resolve(name);
        Files.createDirectories(out);
        for (String f : names(dir)) {
            Files.copy(dir.resolve(f), out.resolve(f));
        }
        return out;
    }
}
