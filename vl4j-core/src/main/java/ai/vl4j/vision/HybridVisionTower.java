package ai.vl4j.vision;

import ai.vl4j.nn.Module;
import java.util.List;
import ai.vl4j.ModelFormatException;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Interpolate;

/**
 * The 7B hybrid tower, spec §3.3: one processor image Z [3, 1024, 1024] in [0, 1] seen twice,
 * <pre>
 *   high = SAM(Z)                                     [576, 1024]   fine detail
 *   low  = SigLIP(antialiased-bilinear 1024→384 of Z)  [576, 1024]   semantics (the 384 image comes from the padded 1024 one)
 * </pre>
 * returned as the tuple (high, low) — {@code concat_type: tuple}, high first — for the split aligner.
 * Weights under {@code vision_model.vision_tower_high.vision_tower.} and {@code vision_model.vision_tower_low.vision_tower.};
 * {@code vision_model.{high,low}_layer_norm} exist in the checkpoint but are never applied.
 */
public final class HybridVisionTower implements VisionTower {
    public static final String HIGH_PREFIX = "vision_model.vision_tower_high.vision_tower.";
    public static final String LOW_PREFIX = "vision_model.vision_tower_low.vision_tower.";

    private final SamEncoder high;
    private final SigLipVit low;

    public HybridVisionTower(SamConfig highCfg, SigLipConfig lowCfg, Weights w) {
        this.high = new SamEncoder(highCfg, w, HIGH_PREFIX);
        this.low = new SigLipVit(lowCfg, w, LOW_PREFIX);
        int highTokens = highCfg.outputGrid() * highCfg.outputGrid();
        if (highTokens != lowCfg.numTokens()) {
            throw new ModelFormatException(w.folder() + ": SAM yields " + highTokens + " tokens but SigLIP " + lowCfg.numTokens());
        }
    }

    @Override
    public int imageSize() {
        return high.config().imageSize();
    }

    @Override
    public int numTokens() {
        return low.numTokens();
    }

    /** SigLIP's input: Resize(384, antialias=True) of the processor image, before the tower's own normalisation. */
    public float[] lowResolution(float[] pixels) {
        int s = imageSize();
        int t = low.imageSize();
        return Interpolate.antialiasBilinearChw(pixels, 3, s, s, t, t);
    }

    @Override
    public float[][] features(float[] pixels) {
        return new float[][] {high.forward(pixels), low.forward(lowResolution(pixels))};
    }

    /**
     * The SigLIP tower's parameters. SAM-B is frozen in every training stage and runs forward only; its tensors are
     * not registered (they are saved as they are in the checkpoint).
     */
    @Override
    public List<Module> children() {
        return List.of(low);
    }

    public SamEncoder sam() {
        return high;
    }

    public SigLipVit siglip() {
        return low;
    }
}
