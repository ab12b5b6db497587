package ai.vl4j.clip;

import ai.vl4j.nn.LayerNorm;
import ai.vl4j.nn.Linear;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.VectorMath;
import ai.vl4j.vision.Pixels;
import ai.vl4j.vision.SigLipVit;
import ai.vl4j.zeroshot.TowerConfig;

/**
 * CLIP's vision tower (HF {@code CLIPVisionTransformer} + {@code visual_projection}), spec §8: a class-token ViT.
 * <pre>
 *   pixel_values [3, S, S]  →  patch conv P×P stride P (no bias)                       [N, Dv], N = (S/P)² row-major
 *   X = [class_embedding; patches] + position_embedding                                [1 + N, Dv]
 *   X = pre_layrnorm(X);   layers × Block (bidirectional)      → vision_last_hidden_state [1 + N, Dv]
 *   image_pooled   = post_layernorm(X[0])                       the class token           [Dv]
 *   image_features = visual_projection(image_pooled)                                     [P]
 * </pre>
 * Weights: vision_model.{embeddings.{class_embedding, patch_embedding.weight, position_embedding.weight},
 * pre_layrnorm (sic), encoder.layers.N.*, post_layernorm}, visual_projection.weight.
 */
public final class ClipVisionTower {
    private static final String PREFIX = "vision_model.";

    private final TowerConfig cfg;
    private final Linear patchEmbed;         // conv [Dv, 3, P, P] as [Dv, 3·P·P]
    private final float[] classEmbedding;    // [Dv]
    private final float[] positionEmbedding; // [1 + N, Dv]
    private final LayerNorm preNorm;
    private final SigLipVit.Block[] layers;
    private final LayerNorm postNorm;
    private final Linear projection;         // [P, Dv]

    public ClipVisionTower(TowerConfig cfg, int projectionDim, Weights w) {
        this.cfg = cfg;
        int d = cfg.hiddenSize();
        int p = cfg.patchSize();
        this.patchEmbed = new Linear(w.require(PREFIX + "embeddings.patch_embedding.weight", d, 3, p, p).reshape(d, 3L * p * p), null);
        this.classEmbedding = w.requireFloats(PREFIX + "embeddings.class_embedding", d);
        this.positionEmbedding = w.requireFloats(PREFIX + "embeddings.position_embedding.weight", tokens(), d);
        this.preNorm = LayerNorm.load(w, PREFIX + "pre_layrnorm", d, cfg.layerNormEps());
        this.layers = new SigLipVit.Block[cfg.layers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new SigLipVit.Block(cfg.layerSpec(false), w, PREFIX + "encoder.layers." + i + ".", SigLipVit.LayerNames.HF);
        }
        this.postNorm = LayerNorm.load(w, PREFIX + "post_layernorm", d, cfg.layerNormEps());
        this.projection = Linear.load(w, "visual_projection", d, projectionDim, false);
    }

    public TowerConfig config() {
        return cfg;
    }

    /** The class token and the patches: 1 + (S/P)². */
    public int tokens() {
        return 1 + cfg.grid() * cfg.grid();
    }

    /** vision_last_hidden_state [1 + N, Dv] of pixel_values [3, S, S] (the encoder's output, before post_layernorm). */
    public float[] lastHiddenState(float[] pixelValues) {
        int n = tokens();
        int d = cfg.hiddenSize();
        if (pixelValues.length != 3 * cfg.imageSize() * cfg.imageSize()) {
            throw new IllegalArgumentException("the CLIP vision tower takes [3, " + cfg.imageSize() + ", " + cfg.imageSize()
                    + "] pixels, got " + pixelValues.length + " values");
        }
        float[] patches = Pixels.patches(pixelValues, cfg.imageSize(), cfg.patchSize());
        float[] x = new float[n * d];                                        // [1 + N, Dv]
        System.arraycopy(classEmbedding, 0, x, 0, d);
        float[] embedded = new float[(n - 1) * d];
        patchEmbed.forward(patches, n - 1, embedded);
        System.arraycopy(embedded, 0, x, d, embedded.length);
        VectorMath.addInPlace(x, positionEmbedding, n * d);
        preNorm.forward(x, x, n);
        SigLipVit.Scratch s = new SigLipVit.Scratch(n, d, cfg.intermediateSize());
        for (SigLipVit.Block layer : layers) {
            layer.forward(x, n, s);
        }
        return x;
    }

    /** image_pooled [Dv]: post_layernorm of the class token. */
    public float[] pooled(float[] lastHiddenState) {
        float[] cls = new float[cfg.hiddenSize()];
        postNorm.forward(lastHiddenState, cls, 1);
        return cls;
    }

    /** image_features [P] of image_pooled. */
    public float[] project(float[] pooled) {
        float[] features = new float[projection.out()];
        projection.forward(pooled, 1, features);
        return features;
    }

    /** image_features [P] of pixel_values [3, S, S]. */
    public float[] forward(float[] pixelValues) {
        return project(pooled(lastHiddenState(pixelValues)));
    }
}
