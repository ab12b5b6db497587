package ai.vl4j.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.zeroshot.TowerConfig;
import ai.vl4j.zeroshot.ZeroShotClassifier;
import ai.vl4j.zeroshot.ZeroShotFixture;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** CLIP's intermediate stages against the fixture: hidden states of both towers, the eos pooling, the pooled outputs. */
class ClipModelTest {
    static final ZeroShotFixture F = ZeroShotFixture.CLIP;

    @Test
    void textTowerHiddenStatesAndEosPooling() {
        JsonNode cases = F.cases();
        List<String> texts = F.strings("texts");
        int width = (int) F.expected("input_ids").dim(1);
        try (ClipModel m = ClipModel.load(F.model())) {
            ClipTextTower text = m.textTower();
            int d = text.config().hiddenSize();
            for (int l = 0; l < texts.size(); l++) {
                int[] ids = m.inputIds(texts.get(l));
                int eos = cases.get("eos_position").get(l).asInt();
                assertEquals(eos, text.poolPosition(ids), "eos position of " + texts.get(l));
                assertEquals(eos, text.poolPosition(F.intRow("input_ids", l)), "eos position in the padded batch row");
                float[] hidden = text.lastHiddenState(ids);
                // the padded batch's rows up to the text's length (the rest are pads this run does not have)
                float[] expected = Arrays.copyOf(F.row("text_last_hidden_state", l), ids.length * d);
                F.assertClose("text_last_hidden_state[" + l + "] (" + ids.length + " of " + width + " rows)", hidden, expected);
                float[] pooled = text.pooled(ids, hidden);
                F.assertClose("text_pooled[" + l + "]", pooled, F.row("text_pooled", l));
                F.assertClose("text_features[" + l + "]", text.project(pooled), F.row("text_features", l));
            }
        }
    }

    /** Both of transformers' pooling rules find the first eos when eos is the largest id (legacy argmax, and by id). */
    @Test
    void bothPoolingRules() {
        try (ClipModel m = ClipModel.load(F.model()); Weights w = Weights.open(F.model())) {
            TowerConfig legacy = m.textTower().config();
            int eosId = F.cases().get("eos_token_id").asInt();
            TowerConfig byId = new TowerConfig(legacy.hiddenSize(), legacy.intermediateSize(), legacy.layers(), legacy.heads(),
                    legacy.layerNormEps(), legacy.activation(), legacy.vocabSize(), legacy.maxPositions(), eosId, 0, 0);
            ClipTextTower tower = new ClipTextTower(byId, m.embeddingDim(), w);
            for (int l = 0; l < F.strings("texts").size(); l++) {
                assertEquals(F.cases().get("eos_position").get(l).asInt(), tower.poolPosition(F.intRow("input_ids", l)));
            }
            assertEquals(1, tower.poolPosition(new int[] {eosId - 1, eosId, 5, eosId}));
        }
    }

    @Test
    void visionTowerHiddenStatesAndClassTokenPooling() {
        try (ClipModel m = ClipModel.load(F.model())) {
            ClipVisionTower vision = m.visionTower();
            for (int i = 0; i < F.strings("images").size(); i++) {
                float[] pixels = m.pixelValues(F.images().get(i));
                float[] hidden = vision.lastHiddenState(pixels);
                F.assertClose("vision_last_hidden_state[" + i + "]", hidden, F.row("vision_last_hidden_state", i));
                float[] pooled = vision.pooled(hidden);
                F.assertClose("image_pooled[" + i + "]", pooled, F.row("image_pooled", i));
                F.assertClose("image_features[" + i + "]", vision.project(pooled), F.row("image_features", i));
            }
        }
    }

    /** Without a template the pipeline's default makes the fixture's default_template_case texts and ids. */
    @Test
    void defaultTemplate() {
        JsonNode c = F.cases().get("default_template_case");
        assertEquals(c.get("template").asText(), ZeroShotClassifier.DEFAULT_TEMPLATE);
        try (ClipModel m = ClipModel.load(F.model())) {
            List<String> labels = F.strings("labels");
            for (int l = 0; l < labels.size(); l++) {
                String text = ZeroShotClassifier.format(ZeroShotClassifier.DEFAULT_TEMPLATE, labels.get(l));
                assertEquals(c.get("texts").get(l).asText(), text);
                int real = 0;
                for (JsonNode v : c.get("attention_mask").get(l)) {
                    real += v.asInt();
                }
                int[] want = new int[real];
                for (int j = 0; j < real; j++) {
                    want[j] = c.get("input_ids").get(l).get(j).asInt();
                }
                org.junit.jupiter.api.Assertions.assertArrayEquals(want, m.inputIds(text));
            }
        }
    }
}
