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
 * LayerNorms: PyTorch's default eps 1e-5 (the official code passes none; HF's config says 1e-6, which moves the
 * fixture's logits by up to 3e-4).
 *
 * <p>Batched over prompts: queries [B·T, C]; the keys start as the same image for every prompt, so layer 0's
 * projections of the image side (token → image k_proj(k + kpe), v_proj(k); image → token q_proj(k + kpe)) are
 * computed once per image ({@link ImageSide}) and shared; from layer 0's image → token step on, each prompt has its
 * own keys [B·E², C].
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
     * What layer 0 computes from the image alone, the same for every prompt on it.
     *
     * @param keys      the keys: image embedding + dense prompt embedding [E², C]
     * @param keyPe     the image PE [E², C]
     * @param keysPlusPe keys + kpe [E², C]
     * @param kp        layer 0 token → image k_proj(keys + kpe) [E², C/2]
     * @param vp        layer 0 token → image v_proj(keys) [E², C/2]
     * @param qp        layer 0 image → token q_proj(keys + kpe) [E², C/2]
     */
    record ImageSide(float[] keys, float[] keyPe, float[] keysPlusPe, float[] kp, float[] vp, float[] qp, int n) {
    }

    ImageSide imageSide(float[] keys, float[] keyPe, int n) {
        float[] withPe = plus(keys, keyPe);
        Layer first = layers[0];
        return new ImageSide(keys, keyPe, withPe, first.tokenToImage.projectKeys(withPe, n), first.tokenToImage.projectValues(keys, n),
                first.imageToToken.projectQueries(withPe, n), n);
    }

    /**
     * Runs the layers on a batch of prompts; updates queries [B·T, C] in place and returns the keys [B·E², C].
     *
     * @param queryPe the initial tokens [B·T, C]
     */
    float[] forward(ImageSide image, float[] queries, float[] queryPe, int batch, int t) {
        int n = image.n();
        float[] keys = layers[0].forwardFirst(image, queries, queryPe, batch, t);
        float[] keysPe = new float[keys.length];
        for (int i = 1; i < layers.length; i++) {
            layers[i].forward(queries, keys, queryPe, image.keyPe(), keysPe, batch, t, n);
        }
        float[] q = plus(queries, queryPe);
        withPe(keys, image.keyPe(), keysPe, batch, n);
        float[] attended = finalAttn.forward(q, keysPe, keys, batch, t, n);
        VectorMath.addInPlace(queries, attended, queries.length);
        finalNorm.forward(queries, queries, batch * t);
        return keys;
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

        /** Layer 0 on keys that every prompt shares (the image side projected once); returns each prompt's keys. */
        float[] forwardFirst(ImageSide image, float[] queries, float[] queryPe, int batch, int t) {
            int n = image.n();
            int rows = batch * t;
            selfAttention(queries, queryPe, batch, t);
            // tokens attend to the image: its keys and values are the same for every prompt
            float[] q = plus(queries, queryPe);
            VectorMath.addInPlace(queries, tokenToImage.attend(tokenToImage.projectQueries(q, rows), image.kp(), image.vp(), batch, t, n, t, 0),
                    queries.length);
            norm2.forward(queries, queries, rows);
            mlp(queries, rows);
            // the image attends to each prompt's tokens: the image's queries are shared, the result is per prompt
            q = plus(queries, queryPe);
            float[] update = imageToToken.fewKeysSharedQueries(image.qp(), q, queries, batch, n, t);
            float[] keys = new float[batch * n * width];
            for (int b = 0; b < batch; b++) {
                VectorMath.add(image.keys(), 0, update, b * n * width, keys, b * n * width, n * width);
            }
            norm4.forward(keys, keys, batch * n);
            return keys;
        }

        void forward(float[] queries, float[] keys, float[] queryPe, float[] keyPe, float[] keysPe, int batch, int t, int n) {
            int rows = batch * t;
            selfAttention(queries, queryPe, batch, t);
            // tokens attend to the image
            float[] q = plus(queries, queryPe);
            withPe(keys, keyPe, keysPe, batch, n);
            VectorMath.addInPlace(queries, tokenToImage.forward(q, keysPe, keys, batch, t, n), queries.length);
            norm2.forward(queries, queries, rows);
            mlp(queries, rows);
            // the image attends to the tokens
            q = plus(queries, queryPe);
            VectorMath.addInPlace(keys, imageToToken.forward(keysPe, q, queries, batch, n, t), keys.length);
            norm4.forward(keys, keys, batch * n);
        }

        private void selfAttention(float[] queries, float[] queryPe, int batch, int t) {
            if (skipFirstPe) {
                System.arraycopy(selfAttn.forward(queries, queries, queries, batch, t, t), 0, queries, 0, queries.length);
            } else {
                float[] q = plus(queries, queryPe);
                VectorMath.addInPlace(queries, selfAttn.forward(q, q, queries, batch, t, t), queries.length);
            }
            norm1.forward(queries, queries, batch * t);
        }

        private void mlp(float[] queries, int rows) {
            float[] hidden = new float[rows * lin1.out()];
            lin1.forward(queries, rows, hidden);
            Activations.relu(hidden, hidden.length);
            float[] y = new float[queries.length];
            lin2.forward(hidden, rows, y);
            VectorMath.addInPlace(queries, y, queries.length);
            norm3.forward(queries, queries, rows);
        }
    }
}
