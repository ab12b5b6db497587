package ai.vl4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The transposed convolution (kernel = stride) against its definition, summed in double. */
class ConvTranspose2dTest {

    @Test
    void matchesTheScalarDefinition() {
        Random rnd = new Random(11);
        int h = 5, w = 3, in = 13, out = 6, k = 2;
        float[] weight = new float[in * out * k * k];   // [in, out, k, k] as PyTorch stores it
        float[] bias = new float[out];
        float[] x = new float[h * w * in];              // channels-last
        for (float[] a : new float[][] {weight, bias, x}) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) rnd.nextGaussian();
            }
        }
        ConvTranspose2d conv = new ConvTranspose2d(weight, bias, in, out, k);
        float[] y = conv.forward(x, h, w);
        assertEquals(h * k * w * k * out, y.length);
        for (int oy = 0; oy < h * k; oy++) {
            for (int ox = 0; ox < w * k; ox++) {
                for (int o = 0; o < out; o++) {
                    // out[o, oy, ox] = b[o] + Σ_i x[i, oy/k, ox/k]·W[i, o, oy%k, ox%k]
                    double want = bias[o];
                    for (int i = 0; i < in; i++) {
                        want += (double) x[((oy / k) * w + ox / k) * in + i] * weight[((i * out + o) * k + oy % k) * k + ox % k];
                    }
                    assertEquals(want, y[(oy * w * k + ox) * out + o], 1e-5, "y[" + oy + ", " + ox + ", " + o + "]");
                }
            }
        }
        // the same outputs per input pixel in patch order, and channel-major without the bias
        float[] patches = conv.forwardPatches(x, h * w);
        float[] transposed = conv.forwardPatchesTransposed(x, h * w);
        float[] patchBias = conv.patchBias();
        for (int p = 0; p < h * w; p++) {
            for (int ky = 0; ky < k; ky++) {
                for (int kx = 0; kx < k; kx++) {
                    for (int o = 0; o < out; o++) {
                        float want = y[(((p / w) * k + ky) * w * k + (p % w) * k + kx) * out + o];
                        int row = (ky * k + kx) * out + o;
                        assertEquals(want, patches[(p * k * k + ky * k + kx) * out + o], 0f, "patch pixel " + p + ", " + ky + ", " + kx);
                        assertEquals(want, transposed[row * h * w + p] + patchBias[row], 1e-5, "transposed row " + row + ", pixel " + p);
                    }
                }
            }
        }
    }
}
