package ai.vl4j.siglip;

import ai.vl4j.InvalidInputException;
import ai.vl4j.nn.Embedding;
import ai.vl4j.nn.LayerNorm;
import ai.vl4j.nn.Linear;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.VectorMath;
import ai.vl4j.vision.SigLipVit;
import ai.vl4j.zeroshot.TowerConfig;

/**
 * SigLIP's text tower (HF {@code SiglipTextTransformer}), spec §7:
 * <pre>
 *   ids [T]  (the pipeline pads every text with &lt;/s&gt; to T = model_max_length, 64)
 *   X = token_embedding[ids] + position_embedding[0 .. T)                              [T, D]
 *   layers × Block (bidirectional; no attention mask reaches the model, so the pads are attended to)
 *   H = final_layer_norm(X)                                                            [T, D]
 *   text_features = head(H[T − 1])          the last position, a pad                  [D]
 * </pre>
 * Weights under {@code text_model.}: embeddings.{token,position}_embedding.weight, encoder.layers.N.*,
 * final_layer_norm, head.
 */
public final class SiglipTextTower {
    private static final String PREFIX = "text_model.";

    private final TowerConfig cfg;
    private final Embedding tokenEmbedding;  // [V, D]
    private final float[] positionEmbedding; // [maxPositions, D]
    private final SigLipVit.Block[] layers;
    private final LayerNorm finalNorm;
    private final Linear head;               // [D, D]

    public SiglipTextTower(TowerConfig cfg, Weights w) {
        this.cfg = cfg;
        int d = cfg.hiddenSize();
        this.tokenEmbedding = new Embedding(w.require(PREFIX + "embeddings.token_embedding.weight", cfg.vocabSize(), d));
        this.positionEmbedding = w.requireFloats(PREFIX + "embeddings.position_embedding.weight", cfg.maxPositions(), d);
        this.layers = new SigLipVit.Block[cfg.layers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new SigLipVit.Block(cfg.layerSpec(false), w, PREFIX + "encoder.layers." + i + ".", SigLipVit.LayerNames.HF);
        }
        this.finalNorm = LayerNorm.load(w, PREFIX + "final_layer_norm", d, cfg.layerNormEps());
        this.head = Linear.load(w, PREFIX + "head", d, d, true);
    }

    public TowerConfig config() {
        return cfg;
    }

    /** text_features [D] of padded ids [T]. */
    public float[] forward(int[] ids) {
        int t = ids.length;
        int d = cfg.hiddenSize();
        if (t < 1 || t > cfg.maxPositions()) {
            throw new InvalidInputException("the SigLIP text tower takes 1 to " + cfg.maxPositions() + " tokens, got " + t);
        }
        float[] x = new float[t * d];                        // [T, D]
        tokenEmbedding.forward(ids, x);
        VectorMath.addInPlace(x, positionEmbedding, t * d);
        SigLipVit.Scratch s = new SigLipVit.Scratch(t, d, cfg.intermediateSize());
        for (SigLipVit.Block layer : layers) {
            layer.forward(x, t, s);
        }
        float[] last = new float[d];                         // final_layer_norm(X)[T − 1]: LayerNorm is per row
        System.arraycopy(x, (t - 1) * d, last, 0, d);
        finalNorm.forward(last, last, 1);
        float[] features = new float[d];
        head.forward(last, 1, features);
        return features;
    }
}
