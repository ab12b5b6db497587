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
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Norms;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.text.Message;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What every golden fixture proves about the language side, stage by stage: the prompt, the embeddings with
 * the image rows spliced in, the final hidden states and logits of every position, the last-position logits
 * of each case, and whole greedy trajectories; plus KV-cache decoding against recomputation and the norm
 * probes. Subclasses name the fixture and add their tower's own checks. Tolerances are the fixtures' READMEs'
 * (atol = rtol = 1e-4); ids must match exactly.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class GoldenModelTest {
    DeepSeekVl vl;

    /** testdata/&lt;fixture&gt; */
    abstract Path fixture();

    /** The case folders under expected/. */
    abstract List<String> cases();

    /** Weight prefix of the SigLIP tower whose blocks.0.norm1 the LayerNorm probe used. */
    abstract String siglipPrefix();

    Path expectedDir() {
        return fixture().resolve("expected");
    }

    @BeforeAll
    void load() {
        vl = DeepSeekVl.load(fixture().resolve("model"));
    }

    @AfterAll
    void close() {
        vl.close();
    }

    RgbImage image(String stem) {
        String file = Fixtures.json(expectedDir().resolve(stem + "/image_meta.json")).get("file").asText();
        return ImageLoader.load(fixture().resolve("images/" + file));
    }

    JsonNode prompt(String caseName) {
        return Fixtures.json(expectedDir().resolve(caseName + "/prompt.json"));
    }

    /** The case's conversation: one user turn whose content carries the placeholders, images in order. */
    List<Message> messages(String caseName) {
        JsonNode prompt = prompt(caseName);
        List<RgbImage> images = new ArrayList<>();
        if (prompt.has("images")) {
            prompt.get("images").forEach(stem -> images.add(image(stem.asText())));
        } else {
            images.add(image(prompt.get("image").asText()));
        }
        return List.of(Message.user(prompt.get("user_content").asText(), images.toArray(RgbImage[]::new)));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void promptTemplateAndIds(String caseName) {
        JsonNode expected = prompt(caseName);
        Prompt prompt = vl.prompt(messages(caseName));
        assertEquals(expected.get("sft_format").asText(), prompt.text());
        assertArrayEquals(ints(expected.get("input_ids")), prompt.inputIds());
        // [start, end) of each image's ids: a list in the 1.3B fixture, a single span in the 7B one
        List<JsonNode> spans = new ArrayList<>();
        (expected.has("image_token_spans") ? expected.get("image_token_spans") : List.of(expected.get("image_token_span")))
                .forEach(spans::add);
        assertEquals(spans.size(), prompt.imageStarts().length);
        for (int i = 0; i < spans.size(); i++) {
            assertEquals(spans.get(i).get(0).asInt(), prompt.imageStarts()[i]);
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void lastPromptLogits(String caseName) {
        assertClose(caseName + " last_logits", prefillLogits(vl, vl.prompt(messages(caseName))),
                expected(expectedDir().resolve(caseName + "/last_logits.safetensors"), "last_logits").toFloatArray());
    }

    static float[] prefillLogits(DeepSeekVl model, Prompt prompt) {
        int n = prompt.inputIds().length;
        float[] x = model.inputEmbeddings(prompt, new HashMap<>());
        LlamaModel llm = model.languageModel();
        float[] hidden = llm.forward(x, n, new KvCache(llm.config(), n));
        return llm.logits(hidden, n - 1);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void greedyContinuationIsIdentical(String caseName) {
        int[] want = ints(Fixtures.json(expectedDir().resolve(caseName + "/greedy.json")).get("new_tokens"));
        GenerationResult r = vl.generate(messages(caseName), SamplingOptions.GREEDY.withMaxNewTokens(want.length), (id, t) -> { });
        assertArrayEquals(want, r.tokenIds(), caseName);
        assertEquals(FinishReason.LENGTH, r.finishReason());
        assertEquals(prompt(caseName).get("input_ids").size(), r.promptTokens());
    }

    @Test
    void fullSequenceOfDogEn() {
        Path file = expectedDir().resolve("dog_a__en/full_sequence.safetensors");
        Prompt prompt = vl.prompt(messages("dog_a__en"));
        int n = prompt.inputIds().length;
        LlamaModel llm = vl.languageModel();
        float[] x = vl.inputEmbeddings(prompt, new HashMap<>());
        assertClose("inputs_embeds", x, expected(file, "inputs_embeds").toFloatArray());
        float[] hidden = llm.forward(x, n, new KvCache(llm.config(), n));
        assertClose("final_hidden", hidden, expected(file, "final_hidden").toFloatArray());

        Tensor columns = expected(file, "logit_columns");
        int cols = (int) columns.numel();
        float[] atColumns = new float[n * cols];
        Tensor wantArgmax = expected(file, "argmax");
        for (int t = 0; t < n; t++) {
            float[] logits = llm.logits(hidden, t);
            assertEquals(wantArgmax.getLong(t), Sampler.argmax(logits), "argmax at position " + t);
            for (int c = 0; c < cols; c++) {
                atColumns[t * cols + c] = logits[(int) columns.getLong(c)];
            }
        }
        assertClose("logits_at_columns", atColumns, expected(file, "logits_at_columns").toFloatArray());
    }

    /** Decoding with the KV cache gives the logits of recomputing the whole sequence from scratch. */
    @Test
    void kvCacheDecodingEqualsFullRecomputation() {
        Prompt prompt = vl.prompt(messages("dog_a__zh"));
        LlamaModel llm = vl.languageModel();
        int h = llm.config().hiddenSize();
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
            float[] all = Arrays.copyOf(x, len * h);
            float[] generatedRows = llm.embed(Arrays.copyOf(ids, s + 1));
            System.arraycopy(generatedRows, 0, all, x.length, generatedRows.length);
            float[] recomputed = llm.logits(llm.forward(all, len, new KvCache(llm.config(), len)), len - 1);
            double maxDiff = 0;
            for (int i = 0; i < logits.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(logits[i] - recomputed[i]));
            }
            assertTrue(maxDiff < 1e-4, "step " + s + ": cached vs recomputed logits differ by " + maxDiff);
        }
        int[] golden = ints(Fixtures.json(expectedDir().resolve("dog_a__zh/greedy.json")).get("new_tokens"));
        assertArrayEquals(Arrays.copyOf(golden, steps), ids);
    }

    @Test
    void normProbesExposeTheEpsilon() {
        Path probes = expectedDir().resolve("norm_probes.safetensors");
        try (Weights w = Weights.open(fixture().resolve("model"))) {
            float[] rmsIn = expected(probes, "rmsnorm_input").toFloatArray();
            int h = vl.config().language().hiddenSize();
            float[] rmsOut = new float[rmsIn.length];
            Norms.rmsNorm(rmsIn, rmsOut, rmsIn.length / h, h,
                    w.requireFloats("language_model.model.layers.0.input_layernorm.weight", h), 1e-6f);
            assertClose("rmsnorm probes", rmsOut, expected(probes, "rmsnorm_output").toFloatArray());

            float[] lnIn = expected(probes, "layernorm_input").toFloatArray();
            int d = vl.config().siglip().width();
            float[] lnOut = new float[lnIn.length];
            Norms.layerNorm(lnIn, lnOut, lnIn.length / d, d, w.requireFloats(siglipPrefix() + "blocks.0.norm1.weight", d),
                    w.requireFloats(siglipPrefix() + "blocks.0.norm1.bias", d), 1e-6f);
            assertClose("layernorm probes", lnOut, expected(probes, "layernorm_output").toFloatArray());
        }
    }
}
