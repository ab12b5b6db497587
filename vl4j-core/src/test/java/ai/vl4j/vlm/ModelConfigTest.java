package ai.vl4j.vlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.InvalidInputException;
import ai.vl4j.ModelFormatException;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.llm.LlamaConfig;
import ai.vl4j.text.Message;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Configuration semantics and the errors a bad model folder or a bad request produces. */
class ModelConfigTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void tinyConfigResolvesPresetOverridesAndLlamaDefaults() {
        ModelConfig cfg = ModelConfig.load(Fixtures.TINY_13B_MODEL);
        assertEquals(64, cfg.siglip().width());
        assertEquals(3, cfg.siglip().depth());
        assertEquals(4, cfg.siglip().heads());
        assertEquals(256, cfg.siglip().mlpHidden());
        assertEquals(16, cfg.siglip().patchSize());
        assertEquals(576, cfg.siglip().numTokens());
        LlamaConfig llm = cfg.language();
        assertEquals(56, llm.hiddenSize());
        assertEquals(14, llm.headDim());
        assertEquals(1e-6f, llm.rmsNormEps());
        assertEquals(10000f, llm.ropeTheta());
        assertEquals(false, llm.tieWordEmbeddings());
        assertEquals("mlp_gelu", cfg.aligner().projectorType());
        assertEquals(127, cfg.imageProcessor().backgroundColor()[0]);
        assertEquals(false, cfg.imageProcessor().doNormalize());
    }

    @Test
    void realSevenBDefaultsWhenKeysAreAbsent() throws IOException {
        ObjectNode lang = JSON.createObjectNode().put("num_hidden_layers", 30).put("vocab_size", 102400);
        LlamaConfig cfg = LlamaConfig.fromJson(ai.vl4j.config.ConfigNode.of("config.json", lang));
        assertEquals(4096, cfg.hiddenSize());
        assertEquals(11008, cfg.intermediateSize());
        assertEquals(32, cfg.numHeads());
        assertEquals(32, cfg.numKvHeads());
        assertEquals(128, cfg.headDim());
    }

    @Test
    void missingKeysAreNamed() throws IOException {
        expectConfigError(c -> c.remove("language_config"), "config.json: language_config is missing");
        expectConfigError(c -> ((ObjectNode) c.get("vision_config").get("params")).remove("model_name"),
                "vision_config.params.model_name is missing");
        expectConfigError(c -> ((ObjectNode) c.get("aligner_config").get("params")).remove("n_embed"),
                "aligner_config.params.n_embed is missing");
        expectConfigError(c -> ((ObjectNode) c.get("language_config")).put("num_hidden_layers", "three"),
                "language_config.num_hidden_layers must be an integer");
        expectConfigError(c -> ((ObjectNode) c.get("aligner_config").get("params")).put("n_embed", 64),
                "aligner output width 64 differs from language_config hidden size 56");
    }

    @Test
    void brokenJsonAndMissingFilesAreNamed() throws IOException {
        copyModel();
        Files.writeString(dir.resolve("preprocessor_config.json"), "{\"image_size\": ");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelConfig.load(dir));
        assertTrue(e.getMessage().contains("preprocessor_config.json: not valid JSON"), e.getMessage());
        Files.delete(dir.resolve("preprocessor_config.json"));
        e = assertThrows(ModelFormatException.class, () -> ModelConfig.load(dir));
        assertTrue(e.getMessage().contains("preprocessor_config.json: file not found"), e.getMessage());
    }

    @Test
    void missingUsedTensorIsNamedButUnusedTensorsAreNot() throws IOException {
        copyModel();
        // drop the SigLIP attention-pool head (never run) and one used tensor
        try (var w = ai.vl4j.safetensors.Weights.open(Fixtures.TINY_13B_MODEL)) {
            List<ai.vl4j.tensor.Tensor> kept = w.tensors().values().stream()
                    .filter(t -> !t.name().contains("attn_pool") && !t.name().equals("language_model.model.layers.2.mlp.up_proj.weight"))
                    .toList();
            ai.vl4j.safetensors.SafetensorsWriter.write(dir.resolve("model.safetensors"), kept, null);
        }
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> DeepSeekVl.load(dir));
        assertTrue(e.getMessage().contains("missing tensor language_model.model.layers.2.mlp.up_proj.weight"), e.getMessage());
    }

    @Test
    void imagesAndPlaceholdersMustPairUp() {
        RgbImage dog = ImageLoader.load(Fixtures.TINY_13B.resolve("images/dog_a.png"));
        try (DeepSeekVl vl = DeepSeekVl.load(Fixtures.TINY_13B_MODEL)) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> vl.prompt(List.of(Message.user("<image_placeholder> and what?", dog, dog))));
            assertEquals("the prompt has 1 <image_placeholder> tag but 2 images were given", e.getMessage());
            e = assertThrows(InvalidInputException.class, () -> vl.prompt(List.of(Message.user("<image_placeholder>?"))));
            assertEquals("the prompt has 1 <image_placeholder> tag but 0 images were given", e.getMessage());
            // without tags, one tag per image goes first in the turn
            Prompt p = vl.prompt(List.of(Message.user("Compare.", dog, dog)));
            assertTrue(p.text().endsWith("User: <image_placeholder><image_placeholder>Compare.\n\nAssistant:"), p.text());
            assertEquals(2, p.imageStarts().length);
        }
    }

    @Test
    void promptLongerThanTheContextIsRejected() throws IOException {
        copyModel();
        ObjectNode config = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
        ((ObjectNode) config.get("language_config")).put("max_position_embeddings", 600);
        JSON.writeValue(dir.resolve("config.json").toFile(), config);
        RgbImage dog = ImageLoader.load(Fixtures.TINY_13B.resolve("images/dog_a.png"));
        try (DeepSeekVl vl = DeepSeekVl.load(dir)) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> vl.generate(List.of(Message.user("Describe.", dog)), SamplingOptions.GREEDY, (id, t) -> { }));
            assertTrue(e.getMessage().startsWith("the prompt is 623 tokens but the model's context holds 600"), e.getMessage());
            // a text-only prompt still fits and generation stops at the context's end
            var r = vl.generate(List.of(Message.user("Hi")), SamplingOptions.GREEDY.withMaxNewTokens(5000), (id, t) -> { });
            assertEquals(600, r.promptTokens() + r.tokenIds().length);
        }
    }

    private void copyModel() throws IOException {
        try (Stream<Path> files = Files.list(Fixtures.TINY_13B_MODEL)) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
    }

    private void expectConfigError(Consumer<ObjectNode> edit, String fragment) throws IOException {
        Path folder = Files.createTempDirectory(dir, "cfg");
        for (String f : List.of("config.json", "preprocessor_config.json", "processor_config.json")) {
            Files.copy(Fixtures.TINY_13B_MODEL.resolve(f), folder.resolve(f));
        }
        ObjectNode config = (ObjectNode) JSON.readTree(folder.resolve("config.json").toFile());
        edit.accept(config);
        JSON.writeValue(folder.resolve("config.json").toFile(), config);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelConfig.load(folder));
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }
}
