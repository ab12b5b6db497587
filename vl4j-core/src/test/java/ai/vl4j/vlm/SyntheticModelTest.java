package ai.vl4j.vlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import ai.vl4j.Fixtures;
import ai.vl4j.safetensors.SafetensorsWriter.Entry;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The synthetic checkpoints enumerate exactly the official state dict: checked against both fixtures, whose
 * tensor lists the official code itself loaded strictly.
 */
class SyntheticModelTest {
    @ParameterizedTest
    @ValueSource(strings = {"tiny-dsvl-1.3b", "tiny-dsvl"})
    void tensorNamesAndShapesMatchTheOfficialLayout(String fixture) {
        Path model = Fixtures.TESTDATA.resolve(fixture).resolve("model");
        List<Entry> entries = SyntheticModel.entries(ModelConfig.load(model), DType.BF16, 1);
        try (Weights w = Weights.open(model)) {
            Map<String, Tensor> real = w.tensors();
            assertEquals(new TreeSet<>(real.keySet()), new TreeSet<>(entries.stream().map(Entry::name).toList()));
            for (Entry e : entries) {
                Tensor t = real.get(e.name());
                assertNotNull(t, e.name());
                assertArrayEquals(t.shape(), e.shape(), e.name());
            }
        }
    }
}
