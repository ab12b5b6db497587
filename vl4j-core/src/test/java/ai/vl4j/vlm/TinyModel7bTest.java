package ai.vl4j.vlm;

import static ai.vl4j.Fixtures.assertClose;
import static ai.vl4j.Fixtures.expected;
import static ai.vl4j.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.ModelFormatException;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.generate.TokenListener;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Norms;
import ai.vl4j.vision.HybridVisionTower;
import ai.vl4j.vision.SamEncoder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The 7B-style tiny checkpoint (SAM-B + SigLIP hybrid tower, split aligner, F16) against testdata/tiny-dsvl:
 * SAM taps (patch embed, a windowed and a global block, both heads), the 1024→384 antialiased resize, the
 * three vision outputs; the language side in {@link GoldenModelTest}.
 */
class TinyModel7bTest extends GoldenModelTest {
    @Override
    Path fixture() {
        return Fixtures.TINY_7B;
    }

    @Override
    List<String> cases() {
        return List.of("dog_a__en", "dog_a__zh", "synth_640x427_q90__en", "synth_640x427_q90__zh",
                "tiny_37x91_rgba__en", "tiny_37x91_rgba__zh");
    }

    @Override
    String siglipPrefix() {
        return HybridVisionTower.LOW_PREFIX;
    }

    HybridVisionTower tower() {
        return (HybridVisionTower) vl.visionTower();
    }

    @ParameterizedTest
    @ValueSource(strings = {"dog_a", "synth_640x427_q90", "tiny_37x91_rgba"})
    void samSiglipAndAlignerOutputs(String stem) {
        Path file = expectedDir().resolve(stem + "/vision.safetensors");
        float[] pixels = vl.preprocess(image(stem));
        float[][] features = vl.visionFeatures(pixels);
        assertEquals(2, features.length);
        assertClose(stem + " sam_output", features[0], expected(file, "sam_output").toFloatArray());
        assertClose(stem + " siglip_output", features[1], expected(file, "siglip_output").toFloatArray());
        assertClose(stem + " aligner_output", vl.embedImage(pixels), expected(file, "aligner_output").toFloatArray());
    }

    /** The SigLIP input of the hybrid tower: torch's antialiased bilinear 1024→384, then (y − 0.5)/0.5. */
    @Test
    void antialiasedResizeMatchesTheReference384Tensor() {
        float[] low = tower().lowResolution(vl.preprocess(image("dog_a")));
        float[] normalized = new float[low.length];
        for (int i = 0; i < low.length; i++) {
            normalized[i] = (low[i] - 0.5f) / 0.5f;
        }
        assertClose("siglip_input", normalized, expected(expectedDir().resolve("dog_a/siglip_input.safetensors"), "siglip_input").toFloatArray());
    }

    @Test
    void samTaps() {
        Path taps = expectedDir().resolve("dog_a/taps.safetensors");
        Map<String, float[]> seen = new HashMap<>();
        SamEncoder sam = tower().sam();
        sam.forward(vl.preprocess(image("dog_a")), (name, values) -> seen.put(name, values.clone()));
        assertClose("sam_embed", seen.get("embed"), expected(taps, "sam_embed").toFloatArray());
        // blocks: HWC rows/cols 32..63 (the bottom-right quadrant, whose windows cover the zero padding)
        assertClose("sam_block0_br (windowed)", bottomRight(seen.get("block0"), 64, 64), expected(taps, "sam_block0_br").toFloatArray());
        assertClose("sam_block1_br (global)", bottomRight(seen.get("block1"), 64, 64), expected(taps, "sam_block1_br").toFloatArray());
        // heads: [C, 24, 24] in the dump, [24·24, C] here
        assertClose("sam_main", chw(seen.get("main"), 576, 64), expected(taps, "sam_main").toFloatArray());
        assertClose("sam_hd", chw(seen.get("hd"), 576, 64), expected(taps, "sam_hd").toFloatArray());

        Map<String, float[]> siglip = new HashMap<>();
        tower().siglip().forward(tower().lowResolution(vl.preprocess(image("dog_a"))), (name, values) -> siglip.put(name, values.clone()));
        for (int b = 0; b < 3; b++) {
            assertClose("siglip_block" + b, siglip.get("block" + b), expected(taps, "siglip_block" + b).toFloatArray());
        }
    }

    @Test
    void layerNorm2dProbe() {
        Path probes = expectedDir().resolve("norm_probes.safetensors");
        float[] in = expected(probes, "layernorm2d_input").toFloatArray();     // [C, 4, 4]
        int c = 32;
        int positions = in.length / c;
        try (Weights w = Weights.open(fixture().resolve("model"))) {
            float[] hwc = new float[in.length];
            for (int ch = 0; ch < c; ch++) {
                for (int p = 0; p < positions; p++) {
                    hwc[p * c + ch] = in[ch * positions + p];
                }
            }
            float[] out = new float[in.length];
            Norms.layerNorm(hwc, out, positions, c, w.requireFloats(HybridVisionTower.HIGH_PREFIX + "neck.1.weight", c),
                    w.requireFloats(HybridVisionTower.HIGH_PREFIX + "neck.1.bias", c), 1e-6f);
            assertClose("layernorm2d probes", chw(out, positions, c), expected(probes, "layernorm2d_output").toFloatArray());
        }
    }

    /**
     * The real 7B layout: three shards and an index. Unused tensors (SigLIP's attention-pool head, the hybrid
     * tower's high/low_layer_norm) may be absent; a used one may not.
     */
    @Test
    void shardedCheckpointWithoutUnusedTensors(@TempDir Path dir) throws IOException {
        copyConfigs(dir);
        Path broken = Files.createDirectories(dir.resolve("broken"));
        copyConfigs(broken);
        try (Weights w = Weights.open(fixture().resolve("model"))) {
            List<Tensor> used = new ArrayList<>();
            for (Tensor t : w.tensors().values()) {
                if (!t.name().contains("attn_pool") && !t.name().contains("_layer_norm")) {
                    used.add(t);
                }
            }
            writeShards(dir, used, 3);
            writeShards(broken, used.stream().filter(t -> !t.name().endsWith("hd_alpha_downsamples")).toList(), 2);
        }
        int[] want = ints(Fixtures.json(expectedDir().resolve("dog_a__en/greedy.json")).get("new_tokens"));
        try (DeepSeekVl sharded = DeepSeekVl.load(dir)) {
            assertArrayEquals(want, sharded.generate(messages("dog_a__en"), SamplingOptions.GREEDY.withMaxNewTokens(want.length),
                    TokenListener.NONE).tokenIds());
        }
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> DeepSeekVl.load(broken));
        assertTrue(e.getMessage().contains("missing tensor vision_model.vision_tower_high.vision_tower.hd_alpha_downsamples"), e.getMessage());
    }

    /** A config that disagrees with the checkpoint about which blocks attend globally is refused, naming the table. */
    @Test
    void globalBlocksComeFromTheCheckpoint(@TempDir Path dir) throws IOException {
        copyConfigs(dir);
        Files.createSymbolicLink(dir.resolve("model.safetensors"), fixture().resolve("model/model.safetensors").toAbsolutePath());
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(dir.resolve("config.json").toFile());
        ((ObjectNode) config.at("/vision_config/params/high_res_cfg")).putArray("global_attn_indexes").add(0).add(3);
        json.writeValue(dir.resolve("config.json").toFile(), config);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> DeepSeekVl.load(dir));
        assertTrue(e.getMessage().contains("blocks.0.attn.rel_pos_h has 27 rows, which makes block 0 windowed with side 14, but the config says global"),
                e.getMessage());
    }

    private void copyConfigs(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(fixture().resolve("model"))) {
            for (Path f : files.toList()) {
                if (f.getFileName().toString().endsWith(".json")) {
                    Files.copy(f, dir.resolve(f.getFileName()));
                }
            }
        }
    }

    /** model-0000i-of-0000n.safetensors and model.safetensors.index.json, tensors dealt round-robin. */
    private static void writeShards(Path dir, List<Tensor> tensors, int shards) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode index = json.createObjectNode();
        index.putObject("metadata").put("total_size", tensors.stream().mapToLong(t -> t.data().byteSize()).sum());
        ObjectNode map = index.putObject("weight_map");
        for (int s = 0; s < shards; s++) {
            String name = String.format("model-%05d-of-%05d.safetensors", s + 1, shards);
            List<Tensor> part = new ArrayList<>();
            for (int i = s; i < tensors.size(); i += shards) {
                part.add(tensors.get(i));
                map.put(tensors.get(i).name(), name);
            }
            SafetensorsWriter.write(dir.resolve(name), part, Map.of("format", "pt"));
        }
        json.writeValue(dir.resolve(Weights.INDEX_FILE).toFile(), index);
    }

    /** Rows/cols 32..63 of an HWC map [h, w, C]. */
    static float[] bottomRight(float[] hwc, int h, int w) {
        int c = hwc.length / (h * w);
        int half = h / 2;
        float[] out = new float[half * half * c];
        for (int y = 0; y < half; y++) {
            System.arraycopy(hwc, ((y + half) * w + half) * c, out, y * half * c, half * c);
        }
        return out;
    }

    /** [n, C] -> [C, n]. */
    static float[] chw(float[] rows, int n, int c) {
        float[] out = new float[rows.length];
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                out[ch * n + i] = rows[i * c + ch];
            }
        }
        return out;
    }
}
