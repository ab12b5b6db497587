package ai.vl4j.vlm;

import ai.vl4j.nn.Linear;
import ai.vl4j.nn.Module;
import ai.vl4j.nn.Parameter;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Activations;
import java.util.ArrayList;
import java.util.List;

/**
 * The aligner that maps vision features to LLM embeddings, spec §3.3 ({@code MlpProjector}):
 * <pre>
 *   mlp_gelu (1.3B):                        E = L_{2(d-1)}(... GELU(L_2(GELU(L_0(F)))))        names layers.0, layers.2, ...
 *   low_high_hybrid_split_mlp_gelu (7B):    a = [high_up_proj(F_high) | low_up_proj(F_low)]  (high half first)
 *                                           E = L_{2d-3}(... GELU(L_1(GELU(a))))                names layers.1, layers.3, ...
 *   linear:                                 E = layers(F);   identity: E = F
 * </pre>
 */
public final class MlpAligner implements Module {
    private final AlignerConfig cfg;
    private final Linear highUp;          // [nEmbed/2, inputDim], hybrid only
    private final Linear lowUp;           // [nEmbed/2, inputDim], hybrid only
    private final List<Linear> layers;    // each followed by GELU except the last (mlp_gelu: first takes inputDim)

    public MlpAligner(AlignerConfig cfg, Weights w) {
        this.cfg = cfg;
        int in = cfg.inputDim();
        int n = cfg.nEmbed();
        this.layers = new ArrayList<>();
        switch (cfg.projectorType()) {
            case "identity" -> {
                highUp = lowUp = null;
            }
            case "linear" -> {
                highUp = lowUp = null;
                layers.add(Linear.load(w, "aligner.layers", in, n, true));
            }
            case "mlp_gelu" -> {
                highUp = lowUp = null;
                layers.add(Linear.load(w, "aligner.layers.0", in, n, true));
                for (int i = 1; i < cfg.depth(); i++) {
                    layers.add(Linear.load(w, "aligner.layers." + (2 * i), n, n, true));
                }
            }
            case "low_high_hybrid_split_mlp_gelu" -> {
                highUp = Linear.load(w, "aligner.high_up_proj", in, n / 2, true);
                lowUp = Linear.load(w, "aligner.low_up_proj", in, n / 2, true);
                for (int i = 1; i < cfg.depth(); i++) {
                    layers.add(Linear.load(w, "aligner.layers." + (2 * i - 1), n, n, true));
                }
            }
            default -> throw new IllegalArgumentException(cfg.projectorType());
        }
    }

    public AlignerConfig config() {
        return cfg;
    }

    /** Every aligner.* tensor (high_up_proj and low_up_proj first for the hybrid aligner). */
    @Override
    public List<Parameter> parameters() {
        List<Module> parts = new ArrayList<>();
        parts.add(highUp);
        parts.add(lowUp);
        parts.addAll(layers);
        return Module.all(parts);
    }

    /** Aligns the feature maps of a vision tower: one map, or (high, low) for the hybrid tower. */
    public float[] forward(float[][] features, int n) {
        return switch (features.length) {
            case 1 -> forward(features[0], n);
            case 2 -> forward(features[0], features[1], n);
            default -> throw new IllegalArgumentException(features.length + " feature maps");
        };
    }

    /** Single-tower aligner: features [n, inputDim] -> embeddings [n, nEmbed]. */
    public float[] forward(float[] features, int n) {
        if (cfg.isHybrid()) {
            throw new IllegalStateException("the hybrid aligner needs high- and low-resolution features");
        }
        if (layers.isEmpty()) {
            return features.clone();
        }
        float[] x = new float[n * cfg.nEmbed()];
        layers.getFirst().forward(features, n, x);
        return hiddenLayers(x, n, 1);
    }

    /** Hybrid aligner: SAM features [n, inputDim] and SigLIP features [n, inputDim] -> [n, nEmbed]. */
    public float[] forward(float[] high, float[] low, int n) {
        if (!cfg.isHybrid()) {
            throw new IllegalStateException("aligner " + cfg.projectorType() + " takes one feature map");
        }
        int half = cfg.nEmbed() / 2;
        float[] h = new float[n * half];
        float[] l = new float[n * half];
        highUp.forward(high, n, h);
        lowUp.forward(low, n, l);
        float[] x = new float[n * cfg.nEmbed()];
        for (int t = 0; t < n; t++) {
            System.arraycopy(h, t * half, x, t * cfg.nEmbed(), half);
            System.arraycopy(l, t * half, x, t * cfg.nEmbed() + half, half);
        }
        return hiddenLayers(x, n, 0);
    }

    /** x = layers[i](GELU(x)) for i = first, first+1, ...: every hidden Linear takes the GELU of its input. */
    private float[] hiddenLayers(float[] x, int n, int first) {
        for (int i = first; i < layers.size(); i++) {
            Activations.gelu(x, x.length);
            float[] y = new float[n * cfg.nEmbed()];
            layers.get(i).forward(x, n, y);
            x = y;
        }
        return x;
    }
}
