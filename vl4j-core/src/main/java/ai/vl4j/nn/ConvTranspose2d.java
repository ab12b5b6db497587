package ai.vl4j.nn;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.Parallel;
import ai.vl4j.tensor.Tensor;

/**
 * nn.ConvTranspose2d with kernel = stride (k×k patches that do not overlap, no padding) on channels-last maps:
 * x [h, w, in] -> y [h·k, w·k, out], y[y·k + ky, x·k + kx, o] = b[o] + Σ_i x[y, x, i]·W[i, o, ky, kx].
 * One matrix product with the weight [in, out, k, k] re-laid once at load to [k·k·out, in] (row (ky·k + kx)·out + o),
 * so that each input pixel's product row holds its k×k output pixels one after another ({@link #forwardPatches}),
 * each pixel's channels contiguous; {@link #forward} then places those pixels in the map.
 */
public final class ConvTranspose2d {
    private final float[] weights; // [k·k·out, in]: row (ky·k + kx)·out + o
    private final Tensor weight;  // the same, as a product's weight
    private final float[] bias;   // [k·k·out]: b[o] repeated for each patch pixel, or null
    private final int out;
    private final int k;

    /** weight [in, out, k, k] as stored by PyTorch; bias [out] or null. */
    public ConvTranspose2d(float[] weight, float[] bias, int in, int out, int k) {
        this.out = out;
        this.k = k;
        int kk = k * k;
        int patch = out * kk;
        float[] t = new float[patch * in];
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) {
                for (int s = 0; s < kk; s++) {
                    t[(s * out + o) * in + i] = weight[(i * out + o) * kk + s];
                }
            }
        }
        this.weights = t;
        this.weight = Tensor.ofFloats("conv_transpose", t, patch, in);
        if (bias == null) {
            this.bias = null;
        } else {
            this.bias = new float[patch];
            for (int j = 0; j < patch; j++) {
                this.bias[j] = bias[j % out];
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

    public int kernel() {
        return k;
    }

    /**
     * The output pixels of n input pixels x [n, in], patch by patch: [n·k·k, out], row r·k·k + ky·k + kx =
     * output pixel (ky, kx) of input pixel r. Every output pixel once, in an order that a per-pixel operation
     * (a norm over channels, an activation, the next such convolution) need not undo.
     */
    public float[] forwardPatches(float[] x, int n) {
        float[] y = new float[n * k * k * out];
        MatMul.linear(x, n, weight, bias, y);
        return y;
    }

    /**
     * {@link #forwardPatches} transposed and without the bias: [k·k·out, n], row (ky·k + kx)·out + o holding that
     * channel of that patch pixel for each of the n input pixels (channel-major, for a consumer that runs along the
     * pixels). The bias of row j is {@link #patchBias()}[j].
     */
    public float[] forwardPatchesTransposed(float[] x, int n) {
        int rows = k * k * out;
        float[] y = new float[rows * n];
        MatMul.linear(weights, rows, Tensor.view("input pixels", x, n, weights.length / rows), null, y);
        return y;
    }

    /** The bias of each row of {@link #forwardPatchesTransposed} [k·k·out] (b[o] for row s·out + o), or null. */
    public float[] patchBias() {
        return bias == null ? null : bias.clone();
    }

    /** y [h·k, w·k, out] of x [h, w, in]. */
    public float[] forward(float[] x, int h, int w) {
        float[] patches = forwardPatches(x, h * w);
        float[] y = new float[patches.length];
        int outW = w * k;
        Parallel.forRange(0, h, 1, (lo, hi) -> {
            for (int iy = lo; iy < hi; iy++) {
                for (int ix = 0; ix < w; ix++) {
                    for (int ky = 0; ky < k; ky++) {
                        System.arraycopy(patches, ((iy * w + ix) * k + ky) * k * out, y, ((iy * k + ky) * outW + ix * k) * out, k * out);
                    }
                }
            }
        });
        return y;
    }
}
