package ai.vl4j.vlm;

import static ai.vl4j.Fixtures.assertClose;
import static ai.vl4j.Fixtures.expected;
import static ai.vl4j.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.vl4j.Fixtures;
import ai.vl4j.generate.GenerationResult;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.vision.SigLipVit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The 1.3B-style tiny checkpoint (SigLIP only, mlp_gelu aligner, BF16) against testdata/tiny-dsvl-1.3b: the
 * tower's taps and outputs here, the language side in {@link GoldenModelTest}, and the same weights stored as
 * F16 and F32.
 */
class TinyModel13bTest extends GoldenModelTest {
    @Override
    Path fixture() {
        return Fixtures.TINY_13B;
    }

    @Override
    List<String> cases() {
        return List.of("dog_a__en", "dog_a__zh", "synth_640x427_q90__en", "tiny_37x91_rgba__zh", "dog_a+synth_640x427_q90__cmp");
    }

    @Override
    String siglipPrefix() {
        return DeepSeekVl.CLIP_TOWER_PREFIX;
    }

    @ParameterizedTest
    @ValueSource(strings = {"dog_a", "synth_640x427_q90", "tiny_37x91_rgba"})
    void siglipAndAlignerOutputs(String stem) {
        Path file = expectedDir().resolve(stem + "/vision.safetensors");
        float[] pixels = vl.preprocess(image(stem));
        float[][] features = vl.visionFeatures(pixels);
        assertEquals(1, features.length);
        assertClose(stem + " siglip_output", features[0], expected(file, "siglip_output").toFloatArray());
        assertClose(stem + " aligner_output", vl.embedImage(pixels), expected(file, "aligner_output").toFloatArray());
    }

    @Test
    void siglipBlockTaps() {
        Path taps = expectedDir().resolve("dog_a/taps.safetensors");
        Map<String, float[]> seen = new HashMap<>();
        ((SigLipVit) vl.visionTower()).forward(vl.preprocess(image("dog_a")), (name, values) -> seen.put(name, values.clone()));
        assertClose("siglip_block0", seen.get("block0"), expected(taps, "siglip_block0").toFloatArray());
        assertClose("siglip_block2", seen.get("block2"), expected(taps, "siglip_block2").toFloatArray());
    }

    /** The real checkpoints' dtype is not certain: the same weights stored as F16 or F32 must work too. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "F32"})
    void weightsStoredAsF16OrF32(DType dtype, @TempDir Path dir) throws IOException {
        try (Stream<Path> files = Files.list(Fixtures.TINY_13B_MODEL)) {
            for (Path f : files.toList()) {
                if (!f.getFileName().toString().endsWith(".safetensors")) {
                    Files.copy(f, dir.resolve(f.getFileName()));
                }
            }
        }
        try (Weights w = Weights.open(Fixtures.TINY_13B_MODEL)) {
            List<Tensor> converted = new ArrayList<>();
            for (Tensor t : w.tensors().values()) {
                converted.add(t.convertTo(dtype));
            }
            SafetensorsWriter.write(dir.resolve("model.safetensors"), converted, Map.of("format", "pt"));
        }
        try (Weights w = Weights.open(dir)) {
            assertEquals(dtype, w.get("language_model.lm_head.weight").dtype());
        }
        try (DeepSeekVl copy = DeepSeekVl.load(dir)) {
            String caseName = "dog_a+synth_640x427_q90__cmp";
            // BF16 values are exact in F16 only within F16's range and precision; F32 holds them exactly.
            if (dtype == DType.F32) {
                assertClose("F32 copy last_logits", prefillLogits(copy, copy.prompt(messages(caseName))),
                        expected(expectedDir().resolve(caseName + "/last_logits.safetensors"), "last_logits").toFloatArray());
            }
            int[] want = ints(Fixtures.json(expectedDir().resolve(caseName + "/greedy.json")).get("new_tokens"));
            GenerationResult r = copy.generate(messages(caseName), SamplingOptions.GREEDY.withMaxNewTokens(want.length), (id, t) -> { });
            assertArrayEquals(want, r.tokenIds(), dtype + " copy");
        }
    }
}
