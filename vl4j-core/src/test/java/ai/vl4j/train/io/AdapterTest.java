package ai.vl4j.train.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.InvalidInputException;
import ai.vl4j.safetensors.SafetensorsFile;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** PEFT adapter folders: the fixture's adapter_init read and written back byte for byte, and every refusal. */
class AdapterTest {
    @TempDir
    Path tmp;

    static final String[] TARGETS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

    static Path adapterInit(String fixture) {
        return Fixtures.TESTDATA.resolve("train/" + fixture + "/lora/adapter_init");
    }

    static Path model(String fixture) {
        return Fixtures.TESTDATA.resolve(fixture + "/model");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-dsvl-1.3b", "tiny-dsvl"})
    void readingAndWritingTheFixtureGivesTheSameFiles(String fixture) throws IOException {
        Path init = adapterInit(fixture);
        Adapter a;
        try (Weights w = Weights.open(model(fixture))) {
            a = Adapter.read(init, w);
            // every Linear of the language model's layers, nothing else (aligner.high_up_proj is not an up_proj)
            List<String> expected = new ArrayList<>();
            int layers = (int) w.tensors().keySet().stream().filter(n -> n.endsWith(".self_attn.q_proj.weight")).count();
            for (int i = 0; i < layers; i++) {
                for (String t : TARGETS) {
                    expected.add("language_model.model.layers." + i + (t.endsWith("_proj") && List.of("gate_proj", "up_proj", "down_proj").contains(t) ? ".mlp." : ".self_attn.") + t);
                }
            }
            assertEquals(expected.stream().sorted().toList(), Adapter.targetPaths(w, a.targets()).stream().sorted().toList());
            assertEquals(expected.stream().sorted().toList(), new ArrayList<>(a.modules().keySet()));
        }
        assertEquals(4, a.rank());
        assertEquals(8.0, a.alpha());
        assertEquals(2.0, a.scaling());
        assertEquals(0.0, a.dropout());
        assertEquals(List.of(TARGETS), a.targets().names());
        JsonNode config = Fixtures.json(init.resolve(Adapter.CONFIG_FILE));
        assertEquals(config.get("base_model_name_or_path").asText(), a.baseModel());

        Path out = tmp.resolve("adapter");
        a.write(out);
        // same JSON fields and values, and the very bytes PEFT wrote
        assertEquals(config, Fixtures.json(out.resolve(Adapter.CONFIG_FILE)));
        assertEquals(Files.readString(init.resolve(Adapter.CONFIG_FILE)), Files.readString(out.resolve(Adapter.CONFIG_FILE)));
        assertArrayEquals(Files.readAllBytes(init.resolve(Adapter.WEIGHTS_FILE)), Files.readAllBytes(out.resolve(Adapter.WEIGHTS_FILE)));
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile f = SafetensorsFile.open(out.resolve(Adapter.WEIGHTS_FILE), arena);
            assertEquals(Map.of("format", "pt"), f.metadata());
            Tensor qa = f.tensors().get("base_model.model.language_model.model.layers.0.self_attn.q_proj.lora_A.weight");
            assertEquals(4, qa.dim(0));
        }
    }

    @Test
    void aNewAdapterGetsPeftsFieldSetAndReadsBack() {
        Adapter a = Adapter.of(2, 4, Adapter.TargetModules.names("q_proj", "v_proj"), 0.05, "deepseek-ai/deepseek-vl-1.3b-chat",
                Map.of("language_model.model.layers.0.self_attn.q_proj", new Adapter.Lora(2, 3, 5, new float[] {1, 2, 3, 4, 5, 6}, new float[10]),
                        "language_model.model.layers.0.self_attn.v_proj", new Adapter.Lora(2, 3, 4, new float[6], new float[] {1, 2, 3, 4, 5, 6, 7, 8})));
        Path out = tmp.resolve("new");
        a.write(out);
        JsonNode written = Fixtures.json(out.resolve(Adapter.CONFIG_FILE));
        JsonNode peft = Fixtures.json(adapterInit("tiny-dsvl-1.3b").resolve(Adapter.CONFIG_FILE));
        List<String> fields = new ArrayList<>();
        written.fieldNames().forEachRemaining(fields::add);
        List<String> peftFields = new ArrayList<>();
        peft.fieldNames().forEachRemaining(peftFields::add);
        assertEquals(peftFields, fields, "PEFT's field set, sorted");
        assertEquals(0.05, written.get("lora_dropout").asDouble());
        assertEquals(4, written.get("lora_alpha").intValue());
        assertTrue(written.get("lora_alpha").isInt(), "lora_alpha is an int, as PEFT types it");
        assertTrue(written.get("init_lora_weights").asBoolean(), "PEFT's default for a new adapter");
        Adapter back = Adapter.read(out);
        assertEquals(a.modules().keySet(), back.modules().keySet());
        assertArrayEquals(a.modules().get("language_model.model.layers.0.self_attn.q_proj").a(),
                back.modules().get("language_model.model.layers.0.self_attn.q_proj").a());
        assertArrayEquals(a.modules().get("language_model.model.layers.0.self_attn.v_proj").b(),
                back.modules().get("language_model.model.layers.0.self_attn.v_proj").b());
        assertEquals(2.0, back.scaling());
        Adapter rs = new Adapter(a.rank(), a.alpha(), a.targets(), a.dropout(), true, null, a.modules(), Map.of());
        assertEquals(4 / Math.sqrt(2), rs.scaling());
        assertTrue(rs.config().get("use_rslora").asBoolean());
    }

    @Test
    void aRegexTargetMatchesWholePaths() throws IOException {
        Path dir = copyOf("tiny-dsvl-1.3b");
        editConfig(dir, c -> c.put("target_modules", ".*\\.self_attn\\.(q_proj|k_proj|v_proj|o_proj)|.*\\.mlp\\.(gate|up|down)_proj"));
        try (Weights w = Weights.open(model("tiny-dsvl-1.3b"))) {
            Adapter a = Adapter.read(dir, w);
            assertEquals(".*\\.self_attn\\.(q_proj|k_proj|v_proj|o_proj)|.*\\.mlp\\.(gate|up|down)_proj", a.targets().regex());
            assertFalse(a.targets().matches("q_proj"), "a regex must match the whole path");
        }
        // a regex that selects fewer modules than the file adapts
        editConfig(dir, c -> c.put("target_modules", ".*\\.q_proj"));
        var e = assertThrows(InvalidInputException.class, () -> Adapter.read(dir));
        assertTrue(e.getMessage().contains(Adapter.WEIGHTS_FILE) && e.getMessage().contains("does not select"), e.getMessage());
        // a regex that selects more modules of the model than the file adapts
        editConfig(dir, c -> c.put("target_modules", ".*_proj|.*lm_head"));
        try (Weights w = Weights.open(model("tiny-dsvl-1.3b"))) {
            e = assertThrows(InvalidInputException.class, () -> Adapter.read(dir, w));
            assertTrue(e.getMessage().contains("missing base_model.model.language_model.lm_head.lora_A.weight"), e.getMessage());
        }
    }

    @Test
    void unsupportedConfigsAreRefusedNamingTheField() throws IOException {
        Map<String, Consumer<ObjectNode>> cases = new TreeMap<>();
        cases.put("use_dora", c -> c.put("use_dora", true));
        cases.put("bias", c -> c.put("bias", "all"));
        cases.put("modules_to_save", c -> c.putArray("modules_to_save").add("lm_head"));
        cases.put("all-linear", c -> c.put("target_modules", "all-linear"));
        cases.put("peft_type", c -> c.put("peft_type", "IA3"));
        cases.put("rank_pattern", c -> c.putObject("rank_pattern").put("q_proj", 8));
        cases.put("layers_to_transform", c -> c.putArray("layers_to_transform").add(0));
        cases.put("init_lora_weights", c -> c.put("init_lora_weights", "pissa"));
        cases.put("fan_in_fan_out", c -> c.put("fan_in_fan_out", true));
        cases.put("target_modules", c -> c.remove("target_modules"));
        cases.put("r", c -> c.put("r", "four"));
        for (Map.Entry<String, Consumer<ObjectNode>> k : cases.entrySet()) {
            Path dir = copyOf("tiny-dsvl-1.3b");
            editConfig(dir, k.getValue());
            var e = assertThrows(InvalidInputException.class, () -> Adapter.read(dir), k.getKey());
            assertTrue(e.getMessage().startsWith(dir.resolve(Adapter.CONFIG_FILE).toString()), e.getMessage());
            assertTrue(e.getMessage().contains(k.getKey()), k.getKey() + ": " + e.getMessage());
            assertFalse(e.getMessage().contains("\n"));
        }
    }

    @Test
    void aMissingMatrixOrAWrongShapeIsNamed() throws IOException {
        String b = "base_model.model.language_model.model.layers.1.mlp.up_proj.lora_B.weight";
        Path dir = copyOf("tiny-dsvl-1.3b");
        rewriteTensors(dir, t -> t.remove(b));
        var e = assertThrows(InvalidInputException.class, () -> Adapter.read(dir));
        assertEquals(dir.resolve(Adapter.WEIGHTS_FILE) + ": missing " + b + " (its lora_A is there)", e.getMessage());

        // both A and B of a selected module missing: found only against the model
        Path dir2 = copyOf("tiny-dsvl-1.3b");
        rewriteTensors(dir2, t -> {
            t.remove(b);
            t.remove(b.replace("lora_B", "lora_A"));
        });
        Adapter.read(dir2);
        try (Weights w = Weights.open(model("tiny-dsvl-1.3b"))) {
            e = assertThrows(InvalidInputException.class, () -> Adapter.read(dir2, w));
            assertTrue(e.getMessage().contains("missing " + b.replace("lora_B", "lora_A")) && e.getMessage().contains("selects"), e.getMessage());
        }

        // an adapter made for another model: the 1.3B-style adapter on the 7B-style model (other sizes)
        try (Weights w = Weights.open(model("tiny-dsvl"))) {
            e = assertThrows(InvalidInputException.class, () -> Adapter.read(adapterInit("tiny-dsvl-1.3b"), w));
            assertTrue(e.getMessage().contains("has shape") && e.getMessage().contains("needs"), e.getMessage());
        }

        // a rank that disagrees with r
        Path dir3 = copyOf("tiny-dsvl-1.3b");
        editConfig(dir3, c -> c.put("r", 3));
        e = assertThrows(InvalidInputException.class, () -> Adapter.read(dir3));
        assertTrue(e.getMessage().contains("lora_A.weight has shape [4, ") && e.getMessage().contains("r = 3"), e.getMessage());

        // a key that is not LoRA's
        Path dir4 = copyOf("tiny-dsvl-1.3b");
        rewriteTensors(dir4, t -> t.put("base_model.model.language_model.model.layers.0.mlp.up_proj.lora_magnitude_vector",
                Tensor.ofFloats("base_model.model.language_model.model.layers.0.mlp.up_proj.lora_magnitude_vector", new float[4], 4)));
        e = assertThrows(InvalidInputException.class, () -> Adapter.read(dir4));
        assertTrue(e.getMessage().contains("unexpected tensor base_model.model.language_model.model.layers.0.mlp.up_proj.lora_magnitude_vector"), e.getMessage());

        var missing = assertThrows(InvalidInputException.class, () -> Adapter.read(tmp.resolve("nothing")));
        assertTrue(missing.getMessage().contains(Adapter.CONFIG_FILE + ": file not found"), missing.getMessage());
    }

    @Test
    void withParametersReplacesTheValues() {
        Adapter a = Adapter.read(adapterInit("tiny-dsvl-1.3b"));
        Map<String, float[]> p = new TreeMap<>();
        a.parameters().forEach((k, v) -> {
            float[] w = v.clone();
            w[0] += 1;
            p.put(k, w);
        });
        Adapter b = a.withParameters(p);
        assertEquals(a.shapes().keySet(), b.shapes().keySet());
        b.parameters().forEach((k, v) -> assertNotEquals(a.parameters().get(k)[0], v[0], k));
        assertEquals(2 * a.modules().size(), a.parameters().size());
    }

    // ---------------------------------------------------------------------------------------------- helpers

    private Path copyOf(String fixture) throws IOException {
        Path dir = Files.createTempDirectory(tmp, "adapter");
        for (String f : List.of(Adapter.CONFIG_FILE, Adapter.WEIGHTS_FILE)) {
            Files.copy(adapterInit(fixture).resolve(f), dir.resolve(f));
        }
        return dir;
    }

    private static void editConfig(Path dir, Consumer<ObjectNode> edit) throws IOException {
        ObjectNode c = (ObjectNode) new ObjectMapper().readTree(dir.resolve(Adapter.CONFIG_FILE).toFile());
        edit.accept(c);
        Files.writeString(dir.resolve(Adapter.CONFIG_FILE), PythonJson.pretty(c) + "\n");
    }

    private static void rewriteTensors(Path dir, Consumer<Map<String, Tensor>> edit) throws IOException {
        Path file = dir.resolve(Adapter.WEIGHTS_FILE);
        Map<String, Tensor> tensors;
        try (Arena arena = Arena.ofConfined()) {
            tensors = new TreeMap<>();
            SafetensorsFile.open(file, arena).tensors().forEach((k, t) -> tensors.put(k, Tensor.ofFloats(k, t.toFloatArray(), t.shape())));
        }
        edit.accept(tensors);
        SafetensorsWriter.write(file, tensors.values(), Map.of("format", "pt"));
    }
}
