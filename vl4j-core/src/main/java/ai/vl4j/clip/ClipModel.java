package ai.vl4j.clip;

import ai.vl4j.InvalidInputException;
import ai.vl4j.config.ConfigNode;
import ai.vl4j.image.ClipImageProcessor;
import ai.vl4j.image.RgbImage;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.text.TowerTokenizer;
import ai.vl4j.zeroshot.TowerConfig;
import ai.vl4j.zeroshot.ZeroShotModel;
import java.nio.file.Path;

/**
 * CLIP (HF {@code CLIPModel}, OpenAI's and LAION's checkpoints, and the zero-shot pipeline's rules for it), spec §8:
 * <pre>
 *   image → CLIPImageProcessor (shortest side, centre crop, OpenAI mean/std) → ClipVisionTower → image_features [P]
 *   text  → byte-level BPE with &lt;/w&gt;, &lt;|startoftext|&gt; … &lt;|endoftext|&gt; → ClipTextTower → text_features [P]
 *   logit = (t/‖t‖)·(i/‖i‖) · exp(logit_scale);   scores = softmax over the labels
 * </pre>
 */
public final class ClipModel implements ZeroShotModel {
    private final Weights weights;
    private final TowerTokenizer tokenizer;
    private final ClipImageProcessor processor;
    private final ClipVisionTower vision;
    private final ClipTextTower text;
    private final int projectionDim;
    private final float logitScale;

    private ClipModel(Weights weights, TowerTokenizer tokenizer, ClipImageProcessor processor, ClipVisionTower vision,
                      ClipTextTower text, int projectionDim, float logitScale) {
        this.weights = weights;
        this.tokenizer = tokenizer;
        this.processor = processor;
        this.vision = vision;
        this.text = text;
        this.projectionDim = projectionDim;
        this.logitScale = logitScale;
    }

    /** Loads a HF CLIPModel folder: config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json), preprocessor_config.json. */
    public static ClipModel load(Path folder) {
        ConfigNode config = ConfigNode.load(folder.resolve("config.json"));
        TowerConfig textCfg = TowerConfig.fromJson(config, "text_config", TowerConfig.CLIP_TEXT);
        TowerConfig visionCfg = TowerConfig.fromJson(config, "vision_config", TowerConfig.CLIP_VISION);
        int projectionDim = config.optInt("projection_dim", 512);
        ClipImageProcessor processor = new ClipImageProcessor(ClipImageProcessor.Config.clip(
                ConfigNode.load(folder.resolve("preprocessor_config.json"))));
        processor.requireSquare(visionCfg.imageSize(), folder.resolve("preprocessor_config.json"));
        Weights w = Weights.open(folder);
        TowerTokenizer tokenizer = null;
        try {
            tokenizer = TowerTokenizer.load(folder);
            return new ClipModel(w, tokenizer, processor, new ClipVisionTower(visionCfg, projectionDim, w),
                    new ClipTextTower(textCfg, projectionDim, w), projectionDim, (float) Math.exp(ZeroShotModel.scalarWeight(w, "logit_scale")));
        } catch (RuntimeException e) {
            if (tokenizer != null) {
                tokenizer.close();
            }
            w.close();
            throw e;
        }
    }

    public ClipVisionTower visionTower() {
        return vision;
    }

    public ClipTextTower textTower() {
        return text;
    }

    @Override
    public String family() {
        return "clip";
    }

    @Override
    public int embeddingDim() {
        return projectionDim;
    }

    @Override
    public float[] pixelValues(RgbImage image) {
        return processor.preprocess(image);
    }

    @Override
    public float[] imageFeatures(float[] pixelValues) {
        return vision.forward(pixelValues);
    }

    /** The BPE ids with &lt;|startoftext|&gt; and &lt;|endoftext|&gt;, unpadded (see {@link ClipTextTower}); no truncation. */
    @Override
    public int[] inputIds(String s) {
        int[] ids = tokenizer.encode(s).ids();
        if (ids.length > text.config().maxPositions()) {
            throw new InvalidInputException("text \"" + s + "\" is " + ids.length + " tokens; CLIP's text tower takes at most "
                    + text.config().maxPositions());
        }
        return ids;
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
        return 0f;
    }

    /** softmax over the labels (in double, stored as float32). */
    @Override
    public float[] scores(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        double[] e = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            e[i] = Math.exp(logits[i] - max);
            sum += e[i];
        }
        float[] out = new float[logits.length];
        for (int i = 0; i < logits.length; i++) {
            out[i] = (float) (e[i] / sum);
        }
        return out;
    }

    @Override
    public void close() {
        tokenizer.close();
        weights.close();
    }
}
