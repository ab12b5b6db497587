package ai.vl4j.vlm;

import static ai.vl4j.Fixtures.assertClose;
import static ai.vl4j.Fixtures.expected;
import static ai.vl4j.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.generate.FinishReason;
import ai.vl4j.generate.GenerationResult;
import ai.vl4j.generate.Sampler;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.llm.KvCache;
import ai.vl4j.llm.LlamaModel;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Norms;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.text.Message;
import ai.vl4j.vision.SigLipVit;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The 1.3B-style tiny checkpoint against the reference dumps of testdata/tiny-dsvl-1.3b: one component at a
 * time (SigLIP taps, SigLIP output, aligner, embeddings, final hidden states, logits), then whole greedy
 * trajectories. Tolerances are the fixture README's (atol = rtol = 1e-4); token ids must match exactly.
 */
class TinyModel13bTest {
    static final Path EXPECTED = Fixtures.TINY_13B.resolve("expected");
    static final String[] CASES = {"dog_a__en", "dog_a__zh", "synth_640x427_q90__en", "tiny_37x91_rgba__zh",
            "dog_a+synth_640x427_q90__cmp"};
    static DeepSeekVl vl;

    @BeforeAll
    static void load() {
        vl = DeepSeekVl.load(Fixtures.TINY_13B_MODEL);
    }

    @AfterAll
    static void close() {
        vl.close();
    }

    static RgbImage image(String stem) {
        String file = Fixtures.json(EXPECTED.resolve(stem + "/image_meta.json")).get("file").asText();
        return ImageLoader.load(Fixtures.TINY_13B.resolve("images/" + file));
    }

    /** The case's conversation: one user turn whose content carries the placeholders, images in order. */
    static List<Message> messages(String caseName) {
        JsonNode prompt = Fixtures.json(EXPECTED.resolve(caseName + "/prompt.json"));
        List<RgbImage> images = new ArrayList<>();
        prompt.get("images").forEach(stem -> images.add(image(stem.asText())));
        return List.of(Message.user(prompt.get("user_content").asText(), images.toArray(RgbImage[]::new)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"dog_a", "synth_640x427_q90", "tiny_37x91_rgba"})
    void siglipAndAlignerOutputs(String stem) {
        Path file = EXPECTED.resolve(stem + "/vision.safetensors");
        float[] pixels = vl.preprocess(image(stem));
        float[][] features = vl.visionFeatures(pixels);
        assertEquals(1, features.length);
        assertClose(stem + " siglip_output", features[0], expected(file, "siglip_output").toFloatArray());
        assertClose(stem + " aligner_output", vl.embedImage(pixels), expected(file, "aligner_output").toFloatArray());
    }

    @Test
    void siglipBlockTaps() {
        Path taps = EXPECTED.resolve("dog_a/taps.safetensors");
        float[] pixels = vl.preprocess(image("dog_a"));
        Map<Integer, float[]> blocks = new HashMap<>();
        try (Weights w = Weights.open(Fixtures.TINY_13B_MODEL)) {
            SigLipVit vit = new SigLipVit(vl.config().siglip(), w, "vision_model.vision_tower.");
            vit.forward(pixels, blocks::put);
        }
        assertClose("siglip_block0", blocks.get(0), expected(taps, "siglip_block0").toFloatArray());
        assertClose("siglip_block2", blocks.get(2), expected(taps, "siglip_block2").toFloatArray());
    }

    @Test
    void normProbesExposeTheEpsilon() {
        Path probes = EXPECTED.resolve("norm_probes.safetensors");
        try (Weights w = Weights.open(Fixtures.TINY_13B_MODEL)) {
            float[] rmsIn = expected(probes, "rmsnorm_input").toFloatArray();
            int h = vl.config().language().hiddenSize();
            float[] rmsOut = new float[rmsIn.length];
            Norms.rmsNorm(rmsIn, rmsOut, rmsIn.length / h, h,
                    w.requireFloats("language_model.model.layers.0.input_layernorm.weight", h), 1e-6f);
            assertClose("rmsnorm probes", rmsOut, expected(probes, "rmsnorm_output").toFloatArray());

            float[] lnIn = expected(probes, "layernorm_input").toFloatArray();
            int d = vl.config().siglip().width();
            float[] lnOut = new float[lnIn.length];
            Norms.layerNorm(lnIn, lnOut, lnIn.length / d, d,
                    w.requireFloats("vision_model.vision_tower.blocks.0.norm1.weight", d),
                    w.requireFloats("vision_model.vision_tower.blocks.0.norm1.bias", d), 1e-6f);
            assertClose("layernorm probes", lnOut, expected(probes, "layernorm_output").toFloatArray());
        }
    }

    static Stream<String> cases() {
        return Stream.of(CASES);
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.MethodSource("cases")
    void promptTemplateAndIds(String caseName) {
        JsonNode expected = Fixtures.json(EXPECTED.resolve(caseName + "/prompt.json"));
        Prompt prompt = vl.prompt(messages(caseName));
        assertEquals(expected.get("sft_format").asText(), prompt.text());
        assertArrayEquals(ints(expected.get("input_ids")), prompt.inputIds());
        JsonNode spans = expected.get("image_token_spans");
        for (int i = 0; i < spans.size(); i++) {
            assertEquals(spans.get(i).get(0).asInt(), prompt.imageStarts()[i]);
        }
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.MethodSource("cases")
    void lastPromptLogits(String caseName) {
        Prompt prompt = vl.prompt(messages(caseName));
        float[] logits = prefillLogits(vl, prompt);
        assertClose(caseName + " last_logits", logits,
                expected(EXPECTED.resolve(caseName + "/last_logits.safetensors"), "last_logits").toFloatArray());
    }

    static float[] prefillLogits(DeepSeekVl model, Prompt prompt) {
        int n = prompt.inputIds().length;
        float[] x = model.inputEmbeddings(prompt, new HashMap<>());
        LlamaModel llm = model.languageModel();
        float[] hidden = llm.forward(x, n, new KvCache(llm.config(), n));
        return llm.logits(hidden, n - 1);
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.MethodSource("cases")
    void greedyContinuationIsIdentical(String caseName) {
        JsonNode greedy = Fixtures.json(EXPECTED.resolve(caseName + "/greedy.json"));
        int[] want = ints(greedy.get("new_tokens"));
        GenerationResult r = vl.generate(messages(caseName), SamplingOptions.GREEDY.withMaxNewTokens(want.length), (id, t) -> { });
        assertArrayEquals(want, r.tokenIds(), caseName);
        assertEquals(FinishReason.LENGTH, r.finishReason());
        assertEquals(ints(Fixtures.json(EXPECTED.resolve(caseName + "/prompt.json")).get("input_ids")).length, r.promptTokens());
    }

    @Test
    void fullSequenceOfDogEn() {
        Path file = EXPECTED.resolve("dog_a__en/full_sequence.safetensors");
        Prompt prompt = vl.prompt(messages("dog_a__en"));
        int n = prompt.inputIds().length;
        LlamaModel llm = vl.languageModel();
        int h = llm.config().hiddenSize();
        float[] x = vl.inputEmbeddings(prompt, new HashMap<>());
        assertClose("inputs_embeds", x, expected(file, "inputs_embeds").toFloatArray());
        float[] hidden = llm.forward(x, n, new KvCache(llm.config(), n));
        assertClose("final_hidden", hidden, expected(file, "final_hidden").toFloatArray());

        Tensor columns = expected(file, "logit_columns");
        float[] atColumns = new float[n * (int) columns.numel()];
        int[] argmax = new int[n];
        for (int t = 0; t < n; t++) {
            float[] logits = llm.logits(hidden, t);
            argmax[t] = Sampler.argmax(logits);
            for (int c = 0; c < columns.numel(); c++) {
                atColumns[t * (int) columns.numel() + c] = logits[(int) columns.getLong(c)];
            }
        }
        assertClose("logits_at_columns", atColumns, expected(file, "logits_at_columns").toFloatArray());
        Tensor wantArgmax = expected(file, "argmax");
        for (int t = 0; t < n; t++) {
            assertEquals(wantArgmax.getLong(t), argmax[t], "argmax at position " + t);
        }
        assertEquals(n * h, hidden.length);
    }

    /** Decoding with the KV cache gives the logits of recomputing the whole sequence from scratch. */
    @Test
    void kvCacheDecodingEqualsFullRecomputation() {
        Prompt prompt = vl.prompt(messages("dog_a__zh"));
        LlamaModel llm = vl.languageModel();
        int n = prompt.inputIds().length;
        int steps = 6;
        float[] x = vl.inputEmbeddings(prompt, new HashMap<>());
        KvCache cache = new KvCache(llm.config(), n + steps);
        float[] logits = llm.logits(llm.forward(x.clone(), n, cache), n - 1);
        int[] ids = new int[steps];
        for (int s = 0; s < steps; s++) {
            ids[s] = Sampler.argmax(logits);
            logits = llm.logits(llm.forward(llm.embed(new int[] {ids[s]}), 1, cache), 0);

            int len = n + s + 1;
            float[] all = new float[len * llm.config().hiddenSize()];
            System.arraycopy(x, 0, all, 0, x.length);
            float[] generatedRows = llm.embed(java.util.Arrays.copyOf(ids, s + 1));
            System.arraycopy(generatedRows, 0, all, x.length, generatedRows.length);
            float[] recomputed = llm.logits(llm.forward(all, len, new KvCache(llm.config(), len)), len - 1);
            double maxDiff = 0;
            for (int i = 0; i < logits.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(logits[i] - recomputed[i]));
            }
            assertTrue(maxDiff < 1e-4, "step " + s + ": cached vs recomputed logits differ by " + maxDiff);
        }
        assertArrayEquals(java.util.Arrays.copyOf(ints(Fixtures.json(EXPECTED.resolve("dog_a__zh/greedy.json")).get("new_tokens")), steps), ids);
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
                        expected(EXPECTED.resolve(caseName + "/last_logits.safetensors"), "last_logits").toFloatArray());
            }
            int[] want = ints(Fixtures.json(EXPECTED.resolve(caseName + "/greedy.json")).get("new_tokens"));
            GenerationResult r = copy.generate(messages(caseName), SamplingOptions.GREEDY.withMaxNewTokens(want.length), (id, t) -> { });
            assertArrayEquals(want, r.tokenIds(), dtype + " copy");
        }
    }
}
