package ai.vl4j.zeroshot;

/**
 * One label's result for one image.
 *
 * @param label the label as given (without the template)
 * @param score σ(logit) for SigLIP, the softmax over the label set for CLIP
 * @param logit cos(image, text) · exp(logit_scale) (+ logit_bias for SigLIP)
 */
public record LabelScore(String label, float score, float logit) {
}
