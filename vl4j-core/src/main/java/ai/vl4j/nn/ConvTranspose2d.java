package ai.vl4j.nn;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Im2Col;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.Tensor;

/**
 * nn.ConvTranspose2d with kernel = stride (k×k patches that do not overlap, no padding) on channels-last maps:
 * x [h, w, in] -> y [h·k, w·k, out], y[y·k + ky, x·k + kx, o] = b[o] + Σ_i x[y, x, i]·W[i, o, ky, kx].
 * One matrix product with the weight [in, out, k, k] transposed once at load to [out·k·k, in], then a fold.
 */
public final class ConvTranspose2d {
    private final Tensor weight;  // [out·k·k, in]: row o·k·k + ky·k + kx
    private final float[] bias;   // [out·k·k]: b[o] repeated over the patch, or null
    private final int out;
    private final int k;

    /** weight [in, out, k, k] as stored by PyTorch; bias [out] or null. */
    public ConvTranspose2d(float[] weight, float[] bias, int in, int out, int k) {
        this.out = out;
        this.k = k;
        int patch = out * k * k;
        float[] t = new float[patch * in];
        for (int i = 0; i < in; i++) {
            for (int j = 0; j < patch; j++) {
                t[j * in + i] = weight[i * patch + j];
            }
        }
        this.weight = Tensor.ofFloats("conv_transpose", t, patch, in);
        if (bias == null) {
            this.bias = null;
        } else {
            this.bias = new float[patch];
            for (int j = 0; j < patch; j++) {
                this.bias[j] = bias[j / (k * k)];
            }
        }
    }

    /** Loads {@code prefix.weight} [in, out, k, k] and {@code prefix.bias} [out]. */
    public static ConvTranspose2d load(Weights w, String prefix, int in, int out, int k) {
        return new ConvTranspose2d(w.requireFloats(prefix + ".weight", in, out, k, k), w.requireFloats(prefix + ".bias", out),
                in, out, k);
    }

    public int out() {
        return out;
    }

    /** y [h·k, w·k, out] of x [h, w, in]. */
    public float[] forward(float[] x, int h, int w) {
        float[] cols = new float[h * w * out * k * k];
        MatMul.linear(x, h * w, weight, bias, cols);
        return Im2Col.fold(cols, h, w, out, k);
    }
}
