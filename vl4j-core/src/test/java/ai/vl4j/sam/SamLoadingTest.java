package ai.vl4j.sam;

import static ai.vl4j.Fixtures.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.InvalidInputException;
import ai.vl4j.ModelFormatException;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading the HF SamModel layout: the tied PE alias, configs with only non-default keys, clear errors; prompt checks. */
class SamLoadingTest {
    static final Path MODEL = Fixtures.SAM_TINY.resolve("model");

    /** A copy of the fixture model with tensors renamed (null: dropped) and the config edited. */
    static Path copy(Path dir, UnaryOperator<String> rename, java.util.function.Consumer<ObjectNode> editConfig) throws IOException {
        Files.createDirectories(dir);
        List<Tensor> tensors = new ArrayList<>();
        try (Weights w = Weights.open(MODEL)) {
            for (Tensor t : w.tensors().values()) {
                String name = rename.apply(t.name());
                if (name != null) {
                    tensors.add(Tensor.ofFloats(name, t.toFloatArray(), t.shape()));
                }
            }
        }
        SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
        ObjectNode config = (ObjectNode) new ObjectMapper().readTree(MODEL.resolve("config.json").toFile());
        editConfig.accept(config);
        Files.writeString(dir.resolve("config.json"), config.toPrettyString());
        return dir;
    }

    static float[] somePrediction(Path folder) {
        try (Sam sam = Sam.load(folder)) {
            SamPredictor p = new SamPredictor(sam);
            p.setImage(ImageLoader.load(Fixtures.SAM_TINY.resolve("images/synth_40x50.png")));
            return p.predict(new double[][] {{20, 10}}, new int[] {1}, null, null, true).lowResLogits();
        }
    }

    @Test
    void theTiedAliasOfTheGaussianMatrixIsAccepted(@TempDir Path dir) throws IOException {
        Path alias = copy(dir, n -> n.equals("shared_image_embedding.positional_embedding") ? PromptEncoder.SHARED_ALIAS : n, c -> { });
        assertClose("tied alias", somePrediction(alias), somePrediction(MODEL));
    }

    @Test
    void configsWithOnlyTheKeysThatDifferFromSamBLoadAlike(@TempDir Path dir) throws IOException {
        // newer transformers write only the keys that differ from SAM-B's defaults: drop those the fixture shares with it
        Map<String, List<String>> samB = Map.of(
                "vision_config", List.of("hidden_act", "layer_norm_eps", "mlp_ratio", "num_channels", "patch_size", "qkv_bias",
                        "use_abs_pos", "use_rel_pos"),
                "prompt_encoder_config", List.of("hidden_act", "layer_norm_eps", "mask_input_channels", "num_point_embeddings", "patch_size"),
                "mask_decoder_config", List.of("hidden_act", "layer_norm_eps", "num_hidden_layers", "attention_downsample_rate",
                        "num_multimask_outputs", "iou_head_depth"));
        Path lean = copy(dir, n -> n, c -> samB.forEach((sub, keys) -> ((ObjectNode) c.get(sub)).remove(keys)));
        assertEquals(SamModelConfig.load(MODEL).toString().replaceAll("\\[I@\\w+", ""),
                SamModelConfig.load(lean).toString().replaceAll("\\[I@\\w+", ""));
        assertClose("lean config", somePrediction(lean), somePrediction(MODEL));
    }

    @Test
    void aMissingTensorOrAWrongActivationIsNamed(@TempDir Path dir) throws IOException {
        Path missing = copy(dir.resolve("a"), n -> n.equals("mask_decoder.iou_token.weight") ? null : n, c -> { });
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Sam.load(missing).close());
        assertTrue(e.getMessage().contains("missing tensor mask_decoder.iou_token.weight"), e.getMessage());
        Path act = copy(dir.resolve("b"), n -> n, c -> ((ObjectNode) c.get("mask_decoder_config")).put("hidden_act", "gelu"));
        e = assertThrows(ModelFormatException.class, () -> Sam.load(act).close());
        assertTrue(e.getMessage().contains("mask_decoder_config.hidden_act is gelu"), e.getMessage());
        Path notSam = copy(dir.resolve("c"), n -> n, c -> c.put("model_type", "siglip"));
        e = assertThrows(ModelFormatException.class, () -> Sam.load(notSam).close());
        assertTrue(e.getMessage().contains("model_type is siglip"), e.getMessage());
    }

    @Test
    void promptsAreCheckedBeforeAnythingRuns() {
        try (Sam sam = Sam.load(MODEL)) {
            SamPredictor p = new SamPredictor(sam);
            assertThrows(IllegalStateException.class, () -> p.predict(new double[][] {{1, 1}}, new int[] {1}, null, null, true));
            RgbImage image = ImageLoader.load(Fixtures.SAM_TINY.resolve("images/synth_40x50.png"));   // 50 × 40
            p.setImage(image);
            assertEquals("point 0 (51, 3) is outside the image (50×40 pixels: 0 ≤ x ≤ 50, 0 ≤ y ≤ 40)",
                    assertThrows(InvalidInputException.class, () -> p.prompt(new double[][] {{51, 3}}, new int[] {1}, null, null)).getMessage());
            assertEquals("label 3 of point 0 (5, 3): must be 1 (foreground) or 0 (background)",
                    assertThrows(InvalidInputException.class, () -> p.prompt(new double[][] {{5, 3}}, new int[] {3}, null, null)).getMessage());
            assertEquals("label: 1 labels for 2 points; give one label (1 foreground, 0 background) per point",
                    assertThrows(InvalidInputException.class, () -> p.prompt(new double[][] {{5, 3}, {6, 3}}, new int[] {1}, null, null)).getMessage());
            assertEquals("box (10, 5, 4, 20): x1 4 < x0 10",
                    assertThrows(InvalidInputException.class, () -> p.prompt(null, null, new double[] {10, 5, 4, 20}, null)).getMessage());
            assertTrue(assertThrows(InvalidInputException.class, () -> p.prompt(null, null, null, new float[10])).getMessage()
                    .startsWith("mask input: 10 values, expected [1, 32, 32]"));
            assertThrows(InvalidInputException.class, () -> p.prompt(new double[][] {{Double.NaN, 3}}, new int[] {1}, null, null));
            // the edges are inside
            assertEquals(1, p.prompt(new double[][] {{50, 40}}, new int[] {0}, new double[] {0, 0, 50, 40}, null).points());
        }
    }

    /** A batch decoded in chunks (as large batches are) gives each prompt the masks it gets alone. */
    @Test
    void chunkedBatchesEqualPromptsDecodedAlone() {
        try (Sam sam = Sam.load(MODEL)) {
            SamPredictor p = new SamPredictor(sam);
            p.setImage(ImageLoader.load(Fixtures.SAM_TINY.resolve("images/dog_150x97.png")));
            int c = sam.config().prompt().hiddenSize();
            int batch = 7;
            float[] sparse = new float[batch * 2 * c];
            for (int b = 0; b < batch; b++) {
                SamPredictor.Prompt prompt = p.prompt(new double[][] {{5 + 13 * b, 10 + 19 * b}}, new int[] {1}, null, null);
                System.arraycopy(sam.promptEncoder().sparse(prompt.coords(), prompt.labels(), null), 0, sparse, b * 2 * c, 2 * c);
            }
            PromptEncoder encoder = sam.promptEncoder();
            MaskDecoder.ImageContext context = sam.maskDecoder().context(p.imageEmbedding(), encoder.imagePositionalEncoding(),
                    encoder.dense(null), encoder.config().embeddingSize());
            int e2 = encoder.config().embeddingSize() * encoder.config().embeddingSize();
            MaskDecoder.Output whole = sam.maskDecoder().predict(context, sparse, batch, 2, true);
            MaskDecoder.Output chunked = sam.maskDecoder().predict(context, sparse, batch, 2, true, 3 * e2);   // chunks of 3, 3, 1
            assertClose("chunked low-res", chunked.lowRes(), whole.lowRes());
            assertClose("chunked iou", chunked.iou(), whole.iou());
            for (int b = 0; b < batch; b++) {
                float[] one = new float[2 * c];
                System.arraycopy(sparse, b * 2 * c, one, 0, 2 * c);
                MaskDecoder.Output alone = sam.maskDecoder().predict(context, one, 1, 2, true);
                float[] slice = java.util.Arrays.copyOfRange(whole.lowRes(), b * alone.lowRes().length, (b + 1) * alone.lowRes().length);
                assertClose("prompt " + b + " alone", slice, alone.lowRes());
            }
        }
    }
}
