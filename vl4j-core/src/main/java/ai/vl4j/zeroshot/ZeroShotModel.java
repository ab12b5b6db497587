package ai.vl4j.zeroshot;

import ai.vl4j.ModelFormatException;
import ai.vl4j.image.RgbImage;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Tensor;

/**
 * A contrastive image-text model family with both towers, its preprocessing and its scoring (spec §7, §8):
 * {@code ai.vl4j.siglip.SiglipModel} or {@code ai.vl4j.clip.ClipModel}. {@link ZeroShotClassifier} builds the
 * pipeline (templates, normalised embeddings, ranking, caching) on top.
 */
public interface ZeroShotModel extends AutoCloseable {
    /** "siglip" or "clip" (config.json's model_type). */
    String family();

    /** Length of image and text features (SigLIP: the width; CLIP: projection_dim). */
    int embeddingDim();

    /** pixel_values [3, S, S] of a decoded image, as the family's image processor computes them. */
    float[] pixelValues(RgbImage image);

    /** image_features [embeddingDim]: the vision tower's pooled output, before L2 normalisation. */
    float[] imageFeatures(float[] pixelValues);

    /** The ids the text tower receives for text: the family's tokenizer and the pipeline's padding rule. */
    int[] inputIds(String text);

    /** text_features [embeddingDim] of inputIds(text), before L2 normalisation. */
    default float[] textFeatures(int[] ids) {
        return textFeatures(new int[][] {ids})[0];
    }

    /** text_features of several texts' ids, run as one batch (the same values as one at a time, to rounding). */
    float[][] textFeatures(int[][] ids);

    /** exp(logit_scale): the multiplier of the cosine similarity. */
    float logitScale();

    /** logit_bias (SigLIP), 0 for CLIP. */
    float logitBias();

    /** The scores of one image's logits over the labels: a sigmoid each (SigLIP) or a softmax over them (CLIP). */
    float[] scores(float[] logits);

    @Override
    void close();

    /** A checkpoint's one-element float tensor ([] or [1]: logit_scale, logit_bias). */
    static float scalarWeight(Weights w, String name) {
        Tensor t = w.get(name);
        if (t == null) {
            throw new ModelFormatException(w.folder() + ": missing tensor " + name);
        }
        if (t.numel() != 1 || !t.dtype().isFloatWeight()) {
            throw new ModelFormatException(w.folder() + ": tensor " + name + " is " + t + ", expected one float");
        }
        return t.getFloat(0);
    }
}
