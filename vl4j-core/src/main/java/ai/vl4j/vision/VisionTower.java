package ai.vl4j.vision;

/**
 * A vision tower: processor pixels [3, S, S] in [0, 1] to the feature maps the aligner takes. The
 * 1.3B {@code CLIPVisionTower} yields one map (SigLIP); the 7B {@code HybridVisionTower} yields two,
 * high-resolution (SAM) first.
 */
public interface VisionTower extends ai.vl4j.nn.Module {
    /** Side S of the square input. */
    int imageSize();

    /** Tokens per image (576). */
    int numTokens();

    /** Feature maps, each [numTokens, width]. */
    float[][] features(float[] pixels);
}
