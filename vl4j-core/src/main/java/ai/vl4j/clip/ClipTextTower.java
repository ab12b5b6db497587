package ai.vl4j.clip;

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
 * CLIP's text tower (HF {@code CLIPTextTransformer} + {@code text_projection}), spec §8: a causal transformer pooled
 * at the end-of-text token.
 * <pre>
 *   ids [T]  (&lt;|startoftext|&gt; … &lt;|endoftext|&gt;)
 *   X = token_embedding[ids] + position_embedding[0 .. T)                               [T, Dt]
 *   layers × Block, causal (query i sees keys 0..i)
 *   H = final_layer_norm(X)                                    → text_last_hidden_state [T, Dt]
 *   text_pooled   = H[e], e = the first eos position (legacy configs with eos_token_id 2: argmax(ids))
 *   text_features = text_projection(text_pooled)                                        [P]
 * </pre>
 * With the causal mask nothing after the eos reaches H[e]: the pipeline's padding (to the longest label, with
 * {@code <|endoftext|>}, masked) cannot change the features, so a text runs alone unpadded, or in a batch padded
 * with any id and no padding mask.
 * Weights: text_model.{embeddings.{token,position}_embedding.weight, encoder.layers.N.*, final_layer_norm},
 * text_projection.weight.
 */
public final class ClipTextTower {
    private static final String PREFIX = "text_model.";

    private final TowerConfig cfg;
    private final Embedding tokenEmbedding;  // [V, Dt]
    private final float[] positionEmbedding; // [maxPositions, Dt]
    private final SigLipVit.Block[] layers;
    private final LayerNorm finalNorm;
    private final Linear projection;         // [P, Dt]

    public ClipTextTower(TowerConfig cfg, int projectionDim, Weights w) {
        this.cfg = cfg;
        int d = cfg.hiddenSize();
        this.tokenEmbedding = new Embedding(w.require(PREFIX + "embeddings.token_embedding.weight", cfg.vocabSize(), d));
        this.positionEmbedding = w.requireFloats(PREFIX + "embeddings.position_embedding.weight", cfg.maxPositions(), d);
        this.layers = new SigLipVit.Block[cfg.layers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new SigLipVit.Block(cfg.layerSpec(true), w, PREFIX + "encoder.layers." + i + ".", SigLipVit.LayerNames.HF);
        }
        this.finalNorm = LayerNorm.load(w, PREFIX + "final_layer_norm", d, cfg.layerNormEps());
        this.projection = Linear.load(w, "text_projection", d, projectionDim, false);
    }

    public TowerConfig config() {
        return cfg;
    }

    /** text_last_hidden_state [T, Dt] of ids [T]. */
    public float[] lastHiddenState(int[] ids) {
        return lastHiddenState(new int[][] {ids}, ids.length);
    }

    /**
     * text_last_hidden_state [B·T, Dt] of B texts, each padded with its own last id to T (the longest) and run as
     * one batch: the linear layers see all B·T rows at once, attention stays within each text, and the causal mask
     * keeps the pads from changing the rows before them.
     */
    float[] lastHiddenState(int[][] batch, int t) {
        int b = batch.length;
        int d = cfg.hiddenSize();
        if (t < 1 || t > cfg.maxPositions()) {
            throw new InvalidInputException("the CLIP text tower takes 1 to " + cfg.maxPositions() + " tokens, got " + t);
        }
        float[] x = new float[b * t * d];                    // [B·T, Dt]
        for (int i = 0; i < b; i++) {
            int[] padded = Arrays.copyOf(batch[i], t);
            Arrays.fill(padded, batch[i].length, t, batch[i][batch[i].length - 1]);
            tokenEmbedding.forward(padded, x, i * t);
            VectorMath.addInPlace(x, i * t * d, positionEmbedding, 0, t * d);
        }
        SigLipVit.Scratch s = new SigLipVit.Scratch(b * t, d, cfg.intermediateSize());
        for (SigLipVit.Block layer : layers) {
            layer.forward(x, b * t, t, s);
        }
        finalNorm.forward(x, x, b * t);
        return x;
    }

    /**
     * The pooling position: transformers 4.43 takes argmax(ids) when text_config.eos_token_id is 2 (the legacy
     * openai configs, where &lt;|endoftext|&gt; is the largest id), else the first position holding eos_token_id
     * (0 when there is none, as torch's argmax of all zeros).
     */
    public int poolPosition(int[] ids) {
        if (cfg.eosTokenId() == 2) {
            int argmax = 0;
            for (int i = 1; i < ids.length; i++) {
                if (ids[i] > ids[argmax]) {
                    argmax = i;
                }
            }
            return argmax;
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == cfg.eosTokenId()) {
                return i;
            }
        }
        return 0;
    }

    /** text_pooled [Dt]: the row of lastHiddenState at the pooling position. */
    public float[] pooled(int[] ids, float[] lastHiddenState) {
        int d = cfg.hiddenSize();
        float[] row = new float[d];
        System.arraycopy(lastHiddenState, poolPosition(ids) * d, row, 0, d);
        return row;
    }

    /** text_features [P] of text_pooled. */
    public float[] project(float[] pooled) {
        float[] features = new float[projection.out()];
        projection.forward(pooled, 1, features);
        return features;
    }

    /** text_features [P] of ids [T]. */
    public float[] forward(int[] ids) {
        return forward(new int[][] {ids})[0];
    }

    /** text_features [B][P] of B texts (ids of any lengths), run as one batch padded to the longest. */
    public float[][] forward(int[][] batch) {
        int t = Arrays.stream(batch).mapToInt(ids -> ids.length).max().orElseThrow();
        int d = cfg.hiddenSize();
        float[] hidden = lastHiddenState(batch, t);
        float[][] out = new float[batch.length][];
        float[] row = new float[d];
        for (int i = 0; i < batch.length; i++) {
            System.arraycopy(hidden, (i * t + poolPosition(batch[i])) * d, row, 0, d);
            out[i] = project(row);
        }
        return out;
    }
}
