package ai.vl4j.nn;

import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.VectorMath;
import java.util.List;

/**
 * A low-rank adapter on a {@link Linear} (LoRA, PEFT's conventions): y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with A [r, in],
 * B [out, r] and s = alpha / r; only A and B train (W stays as stored). Parameter names are PEFT's:
 * {@code base_model.model.<module path>.lora_A.weight} and {@code ...lora_B.weight}.
 */
public final class LoraAdapter implements Module {
    /** PEFT's prefix of adapter tensor names. */
    public static final String PREFIX = "base_model.model.";
    private final Parameter a;   // [r, in]
    private final Parameter b;   // [out, r]
    private final float scaling;

    /** An adapter over module path (e.g. language_model.model.layers.0.self_attn.q_proj) from A and B's values. */
    public LoraAdapter(String modulePath, float[] a, float[] b, int rank, int in, int out, float scaling) {
        this.a = Parameter.created(PREFIX + modulePath + ".lora_A.weight", a, rank, in);
        this.b = Parameter.created(PREFIX + modulePath + ".lora_B.weight", b, out, rank);
        this.scaling = scaling;
    }

    public int rank() {
        return a.matrix().rows();
    }

    public float scaling() {
        return scaling;
    }

    public Parameter a() {
        return a;
    }

    public Parameter b() {
        return b;
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(a, b);
    }

    /** y [n, out] += s·(x·Aᵀ)·Bᵀ. */
    void addTo(float[] x, int n, float[] y, MatMul.Regime regime) {
        int r = rank();
        int out = b.matrix().rows();
        float[] t = new float[n * r];
        MatMul.linear(x, n, a.matrix(), null, t, regime);
        float[] u = new float[n * out];
        MatMul.linear(t, n, b.matrix(), null, u, regime);
        for (int i = 0; i < n * out; i++) {
            y[i] += scaling * u[i];
        }
    }

    /**
     * Backward of {@link #addTo} given dy [n, out]: dB += dyᵀ·(s·x·Aᵀ), dA += (s·dy·B)ᵀ·x while they train, and
     * dx [n, in] += s·(dy·B)·A when dx is not null. The scaling goes on the rank-r products, never on dy [n, out].
     */
    void backward(float[] x, int n, float[] dy, float[] dx) {
        int r = rank();
        int in = a.matrix().cols();
        int out = b.matrix().rows();
        float[] dt = new float[n * r];
        MatMul.backwardInput(dy, n, b.matrix(), dt);           // dy·B [n, r]
        scale(dt, scaling);                                    // s·dy·B
        if (b.trainable()) {
            float[] t = new float[n * r];
            MatMul.linear(x, n, a.matrix(), null, t, MatMul.Regime.AUTO);   // x·Aᵀ [n, r], recomputed
            scale(t, scaling);
            MatMul.backwardWeight(dy, t, n, out, r, b.grad());
        }
        if (a.trainable()) {
            MatMul.backwardWeight(dt, x, n, r, in, a.grad());
        }
        if (dx != null) {
            float[] d = new float[n * in];
            MatMul.backwardInput(dt, n, a.matrix(), d);        // s·(dy·B)·A [n, in]
            VectorMath.addInPlace(dx, d, n * in);
        }
    }

    private static void scale(float[] v, float s) {
        for (int i = 0; i < v.length; i++) {
            v[i] *= s;
        }
    }

    /** W + s·B·A [out, in] in float32: the merged weight. */
    public float[] merged(float[] w) {
        int r = rank();
        int in = a.matrix().cols();
        int out = b.matrix().rows();
        float[] av = a.values();
        float[] bv = b.values();
        float[] m = w.clone();
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                double sum = 0;
                for (int k = 0; k < r; k++) {
                    sum += (double) bv[o * r + k] * av[k * in + i];
                }
                m[o * in + i] += (float) (scaling * sum);
            }
        }
        return m;
    }
}
