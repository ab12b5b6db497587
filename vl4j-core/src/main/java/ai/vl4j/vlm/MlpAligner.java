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

    /** Its linear layers (high_up_proj and low_up_proj first for the hybrid aligner). */
    @Override
    public List<Module> children() {
        List<Module> parts = new ArrayList<>();
        if (highUp != null) {
            parts.add(highUp);
            parts.add(lowUp);
        }
        parts.addAll(layers);
        return parts;
    }

    /** Aligns the feature maps of a vision tower: one map, or (high, low) for the hybrid tower. */
    public float[] forward(float[][] features, int n) {
        return forward(features, n, null);
    }

    /** Single-tower aligner: features [n, inputDim] -> embeddings [n, nEmbed]. */
    public float[] forward(float[] features, int n) {
        return forward(new float[][] {features}, n, null);
    }

    /** Hybrid aligner: SAM features [n, inputDim] and SigLIP features [n, inputDim] -> [n, nEmbed]. */
    public float[] forward(float[] high, float[] low, int n) {
        return forward(new float[][] {high, low}, n, null);
    }

    /**
     * The aligner on one map, or on (high, low) for the hybrid aligner; with a tape (null: none) it keeps what
     * {@link #backward} needs.
     */
    public float[] forward(float[][] features, int n, Tape tape) {
        if (features.length != (cfg.isHybrid() ? 2 : 1)) {
            throw new IllegalArgumentException("aligner " + cfg.projectorType() + " takes " + (cfg.isHybrid() ? 2 : 1)
                    + " feature maps, got " + features.length);
        }
        if (tape != null) {
            tape.features = features;
            tape.n = n;
        }
        if (layers.isEmpty() && !cfg.isHybrid()) {
            return features[0].clone();
        }
        float[] x;
        int first;
        if (cfg.isHybrid()) {   // a = [high_up_proj(F_high) | low_up_proj(F_low)] per row
            int half = cfg.nEmbed() / 2;
            float[] h = new float[n * half];
            float[] l = new float[n * half];
            highUp.forward(features[0], n, h);
            lowUp.forward(features[1], n, l);
            x = new float[n * cfg.nEmbed()];
            for (int t = 0; t < n; t++) {
                System.arraycopy(h, t * half, x, t * cfg.nEmbed(), half);
                System.arraycopy(l, t * half, x, t * cfg.nEmbed() + half, half);
            }
            first = 0;
        } else {
            x = new float[n * cfg.nEmbed()];
            layers.getFirst().forward(features[0], n, x);
            first = 1;
        }
        // x = layers[i](GELU(x)) for i = first, first+1, ...: every hidden Linear takes the GELU of its input
        for (int i = first; i < layers.size(); i++) {
            if (tape != null) {
                tape.preGelu.add(x.clone());
            }
            Activations.gelu(x, x.length);
            if (tape != null) {
                tape.inputs.add(x);
            }
            float[] y = new float[n * cfg.nEmbed()];
            layers.get(i).forward(x, n, y);
            x = y;
        }
        return x;
    }

    /** What a training forward pass keeps for {@link #backward}. */
    public static final class Tape {
        float[][] features;
        int n;
        final List<float[]> preGelu = new ArrayList<>();   // per hidden Linear: its input before the GELU
        final List<float[]> inputs = new ArrayList<>();    // per hidden Linear: its input (after the GELU)
    }

    /**
     * Backward of {@link #forward(float[][], int, Tape)} from dOut [n, nEmbed]: the gradients of the aligner's
     * parameters that train accumulate; returns the gradients of the feature maps when needInput (a tower trains),
     * else null.
     */
    public float[][] backward(Tape tape, float[] dOut, boolean needInput) {
        int n = tape.n;
        int e = cfg.nEmbed();
        if (layers.isEmpty() && !cfg.isHybrid()) {
            return needInput ? new float[][] {dOut.clone()} : null;
        }
        int first = cfg.isHybrid() ? 0 : 1;
        float[] dx = dOut;
        for (int i = layers.size() - 1; i >= first; i--) {
            int k = i - first;
            float[] dIn = new float[n * e];
            layers.get(i).backward(tape.inputs.get(k), n, dx, dIn);
            Activations.geluBackward(tape.preGelu.get(k), dIn, dIn, n * e);
            dx = dIn;
        }
        if (cfg.isHybrid()) {
            int half = e / 2;
            float[] dh = new float[n * half];
            float[] dl = new float[n * half];
            for (int t = 0; t < n; t++) {
                System.arraycopy(dx, t * e, dh, t * half, half);
                System.arraycopy(dx, t * e + half, dl, t * half, half);
            }
            float[] dHigh = needInput ? new float[n * cfg.inputDim()] : null;
            float[] dLow = needInput ? new float[n * cfg.inputDim()] : null;
            highUp.backward(tape.features[0], n, dh, dHigh);
            lowUp.backward(tape.features[1], n, dl, dLow);
            return needInput ? new float[][] {dHigh, dLow} : null;
        }
        float[] dF = needInput ? new float[n * cfg.inputDim()] : null;
        layers.getFirst().backward(tape.features[0], n, dx, dF);
        return needInput ? new float[][] {dF} : null;
    }
}
