package ai.vl4j.siglip;

import ai.vl4j.InvalidInputException;
import ai.vl4j.nn.Embedding;
import ai.vl4j.nn.LayerNorm;
import ai.vl4j.nn.Linear;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.VectorMath;
import ai.vl4j.vision.SigLipVit;
import ai.vl4j.zeroshot.TowerConfig;
import java.util.Arrays;

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
        return forward(new int[][] {ids})[0];
    }

    /**
     * text_features [B][D] of B padded id sequences of one length T, run as one batch: the linear layers see all
     * B·T rows at once (one large product instead of B small ones), attention stays within each text.
     */
    public float[][] forward(int[][] batch) {
        int b = batch.length;
        int t = batch[0].length;
        int d = cfg.hiddenSize();
        if (t < 1 || t > cfg.maxPositions()) {
            throw new InvalidInputException("the SigLIP text tower takes 1 to " + cfg.maxPositions() + " tokens, got " + t);
        }
        float[] x = new float[b * t * d];                    // [B·T, D]
        for (int i = 0; i < b; i++) {
            if (batch[i].length != t) {
                throw new IllegalArgumentException("a batch of texts padded to " + t + " tokens holds one of " + batch[i].length);
            }
            tokenEmbedding.forward(batch[i], x, i * t);
            VectorMath.addInPlace(x, i * t * d, positionEmbedding, 0, t * d);
        }
        SigLipVit.Scratch s = new SigLipVit.Scratch(b * t, d, cfg.intermediateSize());
        for (SigLipVit.Block layer : layers) {
            layer.forward(x, b * t, t, s);
        }
        float[] last = new float[b * d];                     // final_layer_norm(X)[T − 1] of each text: LayerNorm is per row
        for (int i = 0; i < b; i++) {
            System.arraycopy(x, ((i + 1) * t - 1) * d, last, i * d, d);
        }
        finalNorm.forward(last, last, b);
        float[] features = new float[b * d];
        head.forward(last, b, features);
        float[][] out = new float[b][];
        for (int i = 0; i < b; i++) {
            out[i] = Arrays.copyOfRange(features, i * d, (i + 1) * d);
        }
        return out;
    }
}
