package ai.vl4j.sam;

import ai.vl4j.safetensors.Weights;
import java.nio.file.Path;

/**
 * A Segment Anything model loaded from a Hugging Face {@code SamModel} folder ({@code facebook/sam-vit-base},
 * {@code -large}, {@code -huge}): image encoder, prompt encoder and mask decoder. Weights stay memory-mapped
 * until {@link #close()}. The model keeps no per-image state; {@link SamPredictor} does.
 */
public final class Sam implements AutoCloseable {
    private final SamModelConfig config;
    private final Weights weights;
    private final ImageEncoder imageEncoder;
    private final PromptEncoder promptEncoder;
    private final MaskDecoder maskDecoder;

    private Sam(SamModelConfig config, Weights weights) {
        this.config = config;
        this.weights = weights;
        this.imageEncoder = new ImageEncoder(config.vision(), weights, "vision_encoder.", ImageEncoder.Names.HUGGING_FACE);
        this.promptEncoder = new PromptEncoder(config.prompt(), weights);
        this.maskDecoder = new MaskDecoder(config.decoder(), weights);
    }

    public static Sam load(Path folder) {
        SamModelConfig config = SamModelConfig.load(folder);
        Weights weights = Weights.open(folder);
        try {
            return new Sam(config, weights);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    public SamModelConfig config() {
        return config;
    }

    public ImageEncoder imageEncoder() {
        return imageEncoder;
    }

    public PromptEncoder promptEncoder() {
        return promptEncoder;
    }

    public MaskDecoder maskDecoder() {
        return maskDecoder;
    }

    /** Side L of the model input (1024). */
    public int imageSize() {
        return config.vision().imageSize();
    }

    /** Side of the low-resolution masks and of mask inputs: 4E (256). */
    public int maskSize() {
        return config.prompt().maskSize();
    }

    @Override
    public void close() {
        weights.close();
    }
}
