package ai.vl4j.sam;

import ai.vl4j.nn.LayerNorm;
import ai.vl4j.nn.Linear;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Activations;
import ai.vl4j.tensor.VectorMath;

/**
 * The mask decoder's two-way transformer (official {@code TwoWayTransformer}), spec SAM §4. Queries are the
 * prompt tokens (their initial values are also their positional encoding qpe), keys the image embedding (with
 * the image PE kpe); each layer:
 * <pre>
 *   q = LN1(layer 0: attn(q, q, q)            otherwise: q + attn(q + qpe, q + qpe, q))      self-attention
 *   q = LN2(q + attn(q + qpe, k + kpe, k))                                                    token → image
 *   q = LN3(q + lin2(ReLU(lin1(q))))
 *   k = LN4(k + attn(k + kpe, q + qpe, q))                                                    image → token
 * </pre>
 * and at the end {@code q = LN(q + attn(q + qpe, k + kpe, k))}. The cross attentions work at width C/2.
 * LayerNorms: PyTorch's default eps 1e-5 (the official code passes none; HF's config says 1e-6).
 * Batched over prompts: queries [B·T, C], keys [B·E², C]; the image PE [E², C] is shared.
 */
final class TwoWayTransformer {
    /** nn.LayerNorm's default, which the official TwoWayTransformer keeps. */
    static final float EPS = 1e-5f;

    private final Layer[] layers;
    private final DecoderAttention finalAttn;
    private final LayerNorm finalNorm;
    private final int width;

    TwoWayTransformer(MaskDecoder.Config cfg, Weights w, String prefix) {
        this.width = cfg.hiddenSize();
        this.layers = new Layer[cfg.depth()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new Layer(cfg, w, prefix + "layers." + i + ".", i == 0);
        }
        this.finalAttn = new DecoderAttention(w, prefix + "final_attn_token_to_image.", width, cfg.downsampleRate(), cfg.heads());
        this.finalNorm = LayerNorm.load(w, prefix + "layer_norm_final_attn", width, EPS);
    }

    /**
     * Updates queries [B·T, C] and keys [B·E², C] in place.
     *
     * @param queryPe the initial tokens [B·T, C]
     * @param keyPe   the image PE [E², C], the same for every prompt
     */
    void forward(float[] queries, float[] keys, float[] queryPe, float[] keyPe, int batch, int t, int n) {
        float[] keysPe = new float[keys.length];
        for (Layer layer : layers) {
            layer.forward(queries, keys, queryPe, keyPe, keysPe, batch, t, n);
        }
        float[] q = plus(queries, queryPe);
        withPe(keys, keyPe, keysPe, batch, n);
        float[] attended = finalAttn.forward(q, keysPe, keys, batch, t, n);
        VectorMath.addInPlace(queries, attended, queries.length);
        finalNorm.forward(queries, queries, batch * t);
    }

    private static float[] plus(float[] x, float[] pe) {
        float[] out = new float[x.length];
        VectorMath.add(x, 0, pe, 0, out, 0, x.length);
        return out;
    }

    /** out = keys + kpe, kpe repeated for each of the batch's prompts. */
    private void withPe(float[] keys, float[] keyPe, float[] out, int batch, int n) {
        for (int b = 0; b < batch; b++) {
            VectorMath.add(keys, b * n * width, keyPe, 0, out, b * n * width, n * width);
        }
    }

    private final class Layer {
        private final boolean skipFirstPe;
        private final DecoderAttention selfAttn;
        private final DecoderAttention tokenToImage;
        private final DecoderAttention imageToToken;
        private final LayerNorm norm1, norm2, norm3, norm4;
        private final Linear lin1;   // [mlp, C]
        private final Linear lin2;   // [C, mlp]

        Layer(MaskDecoder.Config cfg, Weights w, String prefix, boolean skipFirstPe) {
            int c = cfg.hiddenSize();
            this.skipFirstPe = skipFirstPe;
            selfAttn = new DecoderAttention(w, prefix + "self_attn.", c, 1, cfg.heads());
            tokenToImage = new DecoderAttention(w, prefix + "cross_attn_token_to_image.", c, cfg.downsampleRate(), cfg.heads());
            imageToToken = new DecoderAttention(w, prefix + "cross_attn_image_to_token.", c, cfg.downsampleRate(), cfg.heads());
            norm1 = LayerNorm.load(w, prefix + "layer_norm1", c, EPS);
            norm2 = LayerNorm.load(w, prefix + "layer_norm2", c, EPS);
            norm3 = LayerNorm.load(w, prefix + "layer_norm3", c, EPS);
            norm4 = LayerNorm.load(w, prefix + "layer_norm4", c, EPS);
            lin1 = Linear.load(w, prefix + "mlp.lin1", c, cfg.mlpDim(), true);
            lin2 = Linear.load(w, prefix + "mlp.lin2", cfg.mlpDim(), c, true);
        }

        void forward(float[] queries, float[] keys, float[] queryPe, float[] keyPe, float[] keysPe, int batch, int t, int n) {
            int rows = batch * t;
            // self-attention of the tokens
            if (skipFirstPe) {
                System.arraycopy(selfAttn.forward(queries, queries, queries, batch, t, t), 0, queries, 0, queries.length);
            } else {
                float[] q = plus(queries, queryPe);
                VectorMath.addInPlace(queries, selfAttn.forward(q, q, queries, batch, t, t), queries.length);
            }
            norm1.forward(queries, queries, rows);
            // tokens attend to the image
            float[] q = plus(queries, queryPe);
            withPe(keys, keyPe, keysPe, batch, n);
            VectorMath.addInPlace(queries, tokenToImage.forward(q, keysPe, keys, batch, t, n), queries.length);
            norm2.forward(queries, queries, rows);
            // MLP on the tokens
            float[] hidden = new float[rows * lin1.out()];
            lin1.forward(queries, rows, hidden);
            Activations.relu(hidden, hidden.length);
            float[] mlp = new float[queries.length];
            lin2.forward(hidden, rows, mlp);
            VectorMath.addInPlace(queries, mlp, queries.length);
            norm3.forward(queries, queries, rows);
            // the image attends to the tokens
            q = plus(queries, queryPe);
            VectorMath.addInPlace(keys, imageToToken.forward(keysPe, q, queries, batch, n, t), keys.length);
            norm4.forward(keys, keys, batch * n);
        }
    }
}
