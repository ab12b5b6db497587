package ai.vl4j.sam;

import ai.vl4j.nn.Linear;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Activations;

/**
 * The mask decoder's small MLPs (official {@code MLP}: the hypernetworks and the IoU head): depth linear layers,
 * ReLU between them and none after the last. HF names them {@code proj_in}, {@code layers.0 .. depth−3},
 * {@code proj_out}.
 */
final class Mlp {
    private final Linear[] layers;

    Mlp(Weights w, String prefix, int in, int hidden, int out, int depth) {
        layers = new Linear[depth];
        for (int i = 0; i < depth; i++) {
            String name = i == 0 ? "proj_in" : i == depth - 1 ? "proj_out" : "layers." + (i - 1);
            layers[i] = Linear.load(w, prefix + name, i == 0 ? in : hidden, i == depth - 1 ? out : hidden, true);
        }
    }

    /** y [n, out] of x [n, in]. */
    float[] forward(float[] x, int n) {
        for (int i = 0; i < layers.length; i++) {
            float[] y = new float[n * layers[i].out()];
            layers[i].forward(x, n, y);
            if (i < layers.length - 1) {
                Activations.relu(y, y.length);
            }
            x = y;
        }
        return x;
    }
}
