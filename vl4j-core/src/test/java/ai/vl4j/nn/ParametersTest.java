package ai.vl4j.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.llm.KvCache;
import ai.vl4j.llm.LlamaModel;
import ai.vl4j.llm.TrainingTape;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.PackedWeight;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.vlm.DeepSeekVl;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The parameter registry: every tensor a training stage may train is registered once under its checkpoint name
 * with the checkpoint's shape, and nothing else (not SAM-B's, which only runs forward, nor the never-run attn_pool
 * head and hybrid layer norms). A parameter that trains is read by the forward pass in float32 from then on.
 */
class ParametersTest {

    @ParameterizedTest
    @ValueSource(strings = {"tiny-dsvl-1.3b", "tiny-dsvl"})
    void everyTrainableCheckpointTensorIsRegisteredOnceByName(String fixture) {
        Path model = Fixtures.TESTDATA.resolve(fixture).resolve("model");
        try (DeepSeekVl vl = DeepSeekVl.load(model); Weights w = Weights.open(model)) {
            Map<String, Parameter> byName = Module.byName(vl.parameters());
            TreeSet<String> expected = new TreeSet<>();
            for (String name : w.tensors().keySet()) {
                boolean sam = name.startsWith("vision_model.vision_tower_high.");
                boolean unused = name.contains(".attn_pool.") || name.startsWith("vision_model.high_layer_norm")
                        || name.startsWith("vision_model.low_layer_norm");
                if (!sam && !unused) {
                    expected.add(name);
                }
            }
            assertEquals(expected, new TreeSet<>(byName.keySet()));
            for (Parameter p : byName.values()) {
                Tensor t = w.get(p.name());
                assertArrayEquals(t.shape(), p.shape(), p.name());
                assertEquals(t.numel(), p.numel(), p.name());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aTrainingParameterIsReadInFloat32AndTheTapeGivesThePrefillsBits(boolean checkpoint) {
        try (DeepSeekVl vl = DeepSeekVl.load(Fixtures.TINY_13B_MODEL)) {
            LlamaModel llm = vl.languageModel();
            int[] ids = vl.tokenizer().encode("Parameters train in float32, read by the same layers.", true);
            int n = ids.length;
            float[] before = llm.forward(llm.embed(ids), n, new KvCache(llm.config(), n));
            Map<String, Parameter> byName = Module.byName(llm.parameters());
            Parameter q = byName.get("language_model.model.layers.0.self_attn.q_proj.weight");
            assertNull(q.grad());
            for (Parameter p : llm.parameters()) {
                p.train();
            }
            assertNotNull(q.grad());
            assertTrue(q.matrix() instanceof Tensor t && t.dtype() == ai.vl4j.tensor.DType.F32);
            // the same values in float32: the GEMM sums each output in the same order, so the same bits
            float[] trained = llm.forward(llm.embed(ids), n, new KvCache(llm.config(), n));
            assertArrayEquals(before, trained);
            float[] taped = llm.forward(llm.embed(ids), new TrainingTape(llm.config(), n, checkpoint));
            assertArrayEquals(before, taped);
            // and the forward reads the parameter: a changed value changes the output
            q.values()[0] += 1f;
            float[] changed = llm.forward(llm.embed(ids), n, new KvCache(llm.config(), n));
            assertTrue(!java.util.Arrays.equals(before, changed));
            for (Parameter p : llm.parameters()) {
                p.freeze();
            }
            assertNull(q.grad());
        }
    }

    /**
     * The BF16 language model's linear weights are re-laid into panels at load (what decode and prefill read), the
     * vision tower's are not; a parameter that starts training reads float32 values and frees its panels.
     */
    @org.junit.jupiter.api.Test
    void theLanguageModelsWeightsArePackedAtLoadAndTrainingFreesThePanels() {
        try (DeepSeekVl vl = DeepSeekVl.load(Fixtures.TINY_13B_MODEL)) {
            LlamaModel llm = vl.languageModel();
            Map<String, Parameter> byName = Module.byName(vl.parameters());
            long linearBytes = 0;
            for (Parameter p : llm.parameters()) {
                if (p.isMatrix() && !p.name().contains("embed_tokens")) {
                    assertTrue(p.matrix() instanceof PackedWeight, p.name());
                    linearBytes += p.stored().data().byteSize();
                }
            }
            assertTrue(llm.packedBytes() >= linearBytes, llm.packedBytes() + " < " + linearBytes);
            byName.values().stream().filter(p -> p.name().startsWith("vision_model.") && p.isMatrix())
                    .forEach(p -> assertTrue(!(p.matrix() instanceof PackedWeight), p.name()));
            Parameter q = byName.get("language_model.model.layers.0.self_attn.q_proj.weight");
            PackedWeight panels = (PackedWeight) q.matrix();
            float[] x = new float[panels.cols()];
            float[] out = new float[panels.rows()];
            MatMul.linear(x, 1, panels, null, out, MatMul.Regime.DECODE);
            q.train();
            assertTrue(q.matrix() instanceof Tensor t && t.dtype() == ai.vl4j.tensor.DType.F32);
            assertThrows(IllegalStateException.class, () -> MatMul.linear(x, 1, panels, null, out, MatMul.Regime.DECODE),
                    "the panels are freed");
            q.freeze();
        }
    }
}
