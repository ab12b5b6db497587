package ai.vl4j.siglip;

import ai.vl4j.InvalidInputException;
import ai.vl4j.ModelFormatException;
import ai.vl4j.config.ConfigNode;
import ai.vl4j.image.ClipImageProcessor;
import ai.vl4j.image.RgbImage;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.text.TowerTokenizer;
import ai.vl4j.zeroshot.TowerConfig;
import ai.vl4j.zeroshot.ZeroShotModel;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * SigLIP (HF {@code SiglipModel} and the zero-shot pipeline's rules for it), spec §7:
 * <pre>
 *   image → SiglipImageProcessor (squash resize, (x − 0.5)/0.5) → SiglipVisionTower → image_features [D]
 *   text  → Unigram tokenizer + &lt;/s&gt;, padded with the pad token to model_max_length → SiglipTextTower → text_features [D]
 *   logit = (t/‖t‖)·(i/‖i‖) · exp(logit_scale) + logit_bias;   score = σ(logit), one per label
 * </pre>
 */
public final class SiglipModel implements ZeroShotModel {
    private final Weights weights;
    private final TowerTokenizer tokenizer;
    private final ClipImageProcessor processor;
    private final SiglipVisionTower vision;
    private final SiglipTextTower text;
    private final int paddedLength;
    private final float logitScale;
    private final float logitBias;

    private SiglipModel(Weights weights, TowerTokenizer tokenizer, ClipImageProcessor processor, SiglipVisionTower vision,
                        SiglipTextTower text, int paddedLength, float logitScale, float logitBias) {
        this.weights = weights;
        this.tokenizer = tokenizer;
        this.processor = processor;
        this.vision = vision;
        this.text = text;
        this.paddedLength = paddedLength;
        this.logitScale = logitScale;
        this.logitBias = logitBias;
    }

    /** Loads a HF SiglipModel folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json), preprocessor_config.json. */
    public static SiglipModel load(Path folder) {
        ConfigNode config = ConfigNode.load(folder.resolve("config.json"));
        TowerConfig textCfg = TowerConfig.fromJson(config, "text_config", TowerConfig.SIGLIP_TEXT);
        TowerConfig visionCfg = TowerConfig.fromJson(config, "vision_config", TowerConfig.SIGLIP_VISION);
        ClipImageProcessor processor = new ClipImageProcessor(ClipImageProcessor.Config.siglip(
                ConfigNode.load(folder.resolve("preprocessor_config.json"))));
        processor.requireSquare(visionCfg.imageSize(), folder.resolve("preprocessor_config.json"));
        if (textCfg.hiddenSize() != visionCfg.hiddenSize()) {
            throw config.error("text_config.hidden_size", "(" + textCfg.hiddenSize() + ") differs from vision_config.hidden_size ("
                    + visionCfg.hiddenSize() + "): SigLIP compares the two towers' features directly");
        }
        Weights w = Weights.open(folder);
        TowerTokenizer tokenizer = null;
        try {
            tokenizer = TowerTokenizer.load(folder);
            // padding="max_length": to the tokenizer's model_max_length, which the real checkpoints set to the positions (64)
            int padded = tokenizer.modelMaxLength() > 0 ? tokenizer.modelMaxLength() : textCfg.maxPositions();
            if (tokenizer.padId() < 0) {
                throw new ModelFormatException(folder.resolve("tokenizer_config.json") + ": pad_token is missing (SigLIP pads every text with it)");
            }
            if (padded > textCfg.maxPositions()) {
                throw new ModelFormatException(folder.resolve("tokenizer_config.json") + ": model_max_length " + padded
                        + " exceeds text_config.max_position_embeddings " + textCfg.maxPositions());
            }
            return new SiglipModel(w, tokenizer, processor, new SiglipVisionTower(visionCfg, w), new SiglipTextTower(textCfg, w),
                    padded, (float) Math.exp(ZeroShotModel.scalarWeight(w, "logit_scale")), ZeroShotModel.scalarWeight(w, "logit_bias"));
        } catch (RuntimeException e) {
            if (tokenizer != null) {
                tokenizer.close();
            }
            w.close();
            throw e;
        }
    }

    @Override
    public String family() {
        return "siglip";
    }

    @Override
    public int embeddingDim() {
        return text.config().hiddenSize();
    }

    @Override
    public float[] pixelValues(RgbImage image) {
        return processor.preprocess(image);
    }

    @Override
    public float[] imageFeatures(float[] pixelValues) {
        return vision.forward(pixelValues);
    }

    /** The Unigram ids with &lt;/s&gt;, padded with the pad token to model_max_length (padding="max_length"; no truncation). */
    @Override
    public int[] inputIds(String s) {
        int[] ids = tokenizer.encode(s).ids();
        if (ids.length > paddedLength) {
            throw new InvalidInputException("text \"" + s + "\" is " + ids.length + " tokens; SigLIP's text tower takes at most " + paddedLength);
        }
        int[] padded = Arrays.copyOf(ids, paddedLength);
        Arrays.fill(padded, ids.length, paddedLength, tokenizer.padId());
        return padded;
    }

    @Override
    public float[][] textFeatures(int[][] ids) {
        return text.forward(ids);
    }

    @Override
    public float logitScale() {
        return logitScale;
    }

    @Override
    public float logitBias() {
        return logitBias;
    }

    /** σ(logit) per label, independent of the others. */
    @Override
    public float[] scores(float[] logits) {
        float[] out = new float[logits.length];
        for (int i = 0; i < logits.length; i++) {
            out[i] = (float) (1.0 / (1.0 + Math.exp(-logits[i])));
        }
        return out;
    }

    @Override
    public void close() {
        tokenizer.close();
        weights.close();
    }
}
