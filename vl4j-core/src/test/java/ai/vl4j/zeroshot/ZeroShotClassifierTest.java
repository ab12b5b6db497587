package ai.vl4j.zeroshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.InvalidInputException;
import ai.vl4j.image.RgbImage;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * SigLIP and CLIP through the pipeline against their fixtures, stage by stage: pixel_values, input ids (exact),
 * text and image features, normalised embeddings, logits both ways, and scores (σ for SigLIP, softmax for CLIP).
 */
class ZeroShotClassifierTest {

    static ZeroShotFixture fixture(String family) {
        return family.equals("siglip") ? ZeroShotFixture.SIGLIP : ZeroShotFixture.CLIP;
    }

    @ParameterizedTest
    @ValueSource(strings = {"siglip", "clip"})
    void everyStageOfEveryCase(String family) {
        ZeroShotFixture f = fixture(family);
        JsonNode cases = f.cases();
        List<String> labels = f.strings("labels");
        List<String> texts = f.strings("texts");
        try (ZeroShotClassifier zs = ZeroShotClassifier.load(f.model())) {
            assertEquals(family, zs.family());
            ZeroShotModel m = zs.model();
            // text side, one label at a time
            for (int l = 0; l < labels.size(); l++) {
                assertEquals(texts.get(l), ZeroShotClassifier.format(cases.get("template").asText(), labels.get(l)));
                int[] ids = m.inputIds(texts.get(l));
                int[] want = f.intRow("input_ids", l);
                if (family.equals("clip")) {   // the pipeline's batch pads to the longest label; the tower runs each text alone
                    int real = Arrays.stream(f.intRow("attention_mask", l)).sum();
                    want = Arrays.copyOf(want, real);
                }
                assertArrayEquals(want, ids, "input_ids of " + texts.get(l));
                float[] features = m.textFeatures(ids);
                f.assertClose("text_features[" + l + "]", features, f.row("text_features", l));
                f.assertClose("text_embeds[" + l + "]", zs.embedText(texts.get(l)), f.row("text_embeds", l));
            }
            LabelSet set = zs.labels(labels, cases.get("template").asText());
            List<RgbImage> images = f.images();
            float[][] logitsPerImage = new float[images.size()][];
            for (int i = 0; i < images.size(); i++) {
                float[] pixels = m.pixelValues(images.get(i));
                assertArrayEquals(f.row("pixel_values", i), pixels, "pixel_values[" + i + "]");
                f.assertClose("image_features[" + i + "]", m.imageFeatures(pixels), f.row("image_features", i));
                float[] embedding = zs.embedImage(images.get(i));
                f.assertClose("image_embeds[" + i + "]", embedding, f.row("image_embeds", i));
                logitsPerImage[i] = zs.logits(embedding, set);
                f.assertClose("logits_per_image[" + i + "]", logitsPerImage[i], f.row("logits_per_image", i));
                f.assertClose("probs[" + i + "]", m.scores(logitsPerImage[i]), f.row("probs", i));
                // the ranked result carries the same numbers, best score first
                List<LabelScore> ranked = zs.classify(embedding, set);
                for (int k = 1; k < ranked.size(); k++) {
                    assertTrue(ranked.get(k - 1).score() >= ranked.get(k).score());
                }
                for (LabelScore s : ranked) {
                    int l = labels.indexOf(s.label());
                    assertEquals(logitsPerImage[i][l], s.logit());
                }
            }
            for (int l = 0; l < labels.size(); l++) {
                float[] perText = new float[images.size()];
                for (int i = 0; i < images.size(); i++) {
                    perText[i] = logitsPerImage[i][l];
                }
                f.assertClose("logits_per_text[" + l + "]", perText, f.row("logits_per_text", l));
            }
        }
    }

    /** Label texts run as one batch (CLIP: padded to the longest, unmasked) give each text's own features. */
    @ParameterizedTest
    @ValueSource(strings = {"siglip", "clip"})
    void batchedTextsEqualOneAtATime(String family) {
        ZeroShotFixture f = fixture(family);
        List<String> texts = f.strings("texts");
        try (ZeroShotClassifier zs = ZeroShotClassifier.load(f.model())) {
            ZeroShotModel m = zs.model();
            int[][] ids = texts.stream().map(m::inputIds).toArray(int[][]::new);
            float[][] batched = m.textFeatures(ids);
            for (int l = 0; l < texts.size(); l++) {
                f.assertClose("batched text_features[" + l + "]", batched[l], m.textFeatures(ids[l]));
                f.assertClose("batched text_features[" + l + "] vs fixture", batched[l], f.row("text_features", l));
            }
        }
    }

    /** SigLIP's scores are independent sigmoids; CLIP's a softmax that sums to one over the labels. */
    @Test
    void scoringRules() {
        try (ZeroShotClassifier siglip = ZeroShotClassifier.load(ZeroShotFixture.SIGLIP.model());
             ZeroShotClassifier clip = ZeroShotClassifier.load(ZeroShotFixture.CLIP.model())) {
            float[] logits = {2f, 0f, -1f};
            assertArrayEquals(new float[] {(float) (1 / (1 + Math.exp(-2))), 0.5f, (float) (1 / (1 + Math.exp(1)))}, siglip.model().scores(logits));
            float[] soft = clip.model().scores(logits);
            assertEquals(1.0, soft[0] + soft[1] + soft[2], 1e-6);
            assertEquals(Math.exp(2) / (Math.exp(2) + 1 + Math.exp(-1)), soft[0], 1e-6);
        }
    }

    @Test
    void badLabelsAndTemplatesNameTheField() {
        InvalidInputException empty = assertThrows(InvalidInputException.class, () -> ZeroShotClassifier.checkLabels(List.of(), "labels"));
        assertEquals("labels: the label list is empty; give at least one label", empty.getMessage());
        InvalidInputException blank = assertThrows(InvalidInputException.class, () -> ZeroShotClassifier.checkLabels(List.of("cat", " "), "labels"));
        assertEquals("labels: label 2 of 2 is empty", blank.getMessage());
        InvalidInputException noSlot = assertThrows(InvalidInputException.class, () -> ZeroShotClassifier.checkTemplate("a photo", "template"));
        assertEquals("template: \"a photo\" has no {} where the label goes (e.g. \"This is a photo of {}.\")", noSlot.getMessage());
        assertThrows(InvalidInputException.class, () -> ZeroShotClassifier.checkTemplate("{} and {}", "template"));
        ZeroShotClassifier.checkTemplate("a photo of {}, maybe", "template");
        assertEquals("a photo of a {cat}.", ZeroShotClassifier.format("a photo of a {}.", "{cat}"));
    }
}
