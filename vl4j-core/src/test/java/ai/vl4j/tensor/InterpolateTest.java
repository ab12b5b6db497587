package ai.vl4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Resampling and convolution kernels against direct double-precision formulas. */
class InterpolateTest {

    @Test
    void antialiasWeightsSumToOneAndFollowTheTriangleFilter() {
        Interpolate.Taps taps = Interpolate.antialiasTaps(1024, 384);
        double scale = 1024.0 / 384;
        for (int o = 0; o < 384; o++) {
            double sum = 0;
            double center = scale * (o + 0.5);
            for (int j = 0; j < taps.count()[o]; j++) {
                float w = taps.weights()[o * taps.maxTaps() + j];
                sum += w;
                assertTrue(w >= 0, "negative weight at " + o);
            }
            assertEquals(1.0, sum, 1e-6, "weights of output " + o);
            // exact (double) triangle weights: torch rounds scale and centre to float, which moves weights by ~1e-6
            double total = 0;
            double[] exact = new double[taps.count()[o]];
            for (int j = 0; j < exact.length; j++) {
                double t = Math.abs((j + taps.start()[o] - center + 0.5) / scale);
                exact[j] = Math.max(0, 1 - t);
                total += exact[j];
            }
            for (int j = 0; j < exact.length; j++) {
                assertEquals(exact[j] / total, taps.weights()[o * taps.maxTaps() + j], 1e-5);
            }
        }
        assertEquals(0, taps.start()[0]);
        assertEquals(1024, taps.start()[383] + taps.count()[383]);
    }

    @Test
    void bilinearMatchesTheAlignCornersFalseFormula() {
        Random rnd = new Random(2);
        int in = 8, out = 12, c = 3;
        float[] x = new float[in * in * c];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[] y = Interpolate.bilinearHwc(x, in, in, c, out, out);
        for (int oy = 0; oy < out; oy++) {
            for (int ox = 0; ox < out; ox++) {
                double sy = Math.max((oy + 0.5) * in / out - 0.5, 0), sx = Math.max((ox + 0.5) * in / out - 0.5, 0);
                int y0 = (int) sy, x0 = (int) sx, y1 = Math.min(y0 + 1, in - 1), x1 = Math.min(x0 + 1, in - 1);
                double ly = sy - y0, lx = sx - x0;
                for (int ch = 0; ch < c; ch++) {
                    double want = (1 - ly) * ((1 - lx) * x[(y0 * in + x0) * c + ch] + lx * x[(y0 * in + x1) * c + ch])
                            + ly * ((1 - lx) * x[(y1 * in + x0) * c + ch] + lx * x[(y1 * in + x1) * c + ch]);
                    assertEquals(want, y[(oy * out + ox) * c + ch], 1e-5);
                }
            }
        }
    }

    @Test
    void im2colConvolutionMatchesDirectConvolution() {
        Random rnd = new Random(4);
        int h = 7, w = 6, cin = 3, cout = 5, k = 3, stride = 2, pad = 1;
        float[] x = new float[h * w * cin];
        float[] weight = new float[cout * cin * k * k];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < weight.length; i++) {
            weight[i] = (float) rnd.nextGaussian();
        }
        int oh = Im2Col.outSize(h, k, stride, pad), ow = Im2Col.outSize(w, k, stride, pad);
        float[] cols = Im2Col.unfold(x, h, w, cin, k, stride, pad);
        float[] y = new float[oh * ow * cout];
        MatMul.linear(cols, oh * ow, Tensor.ofFloats("w", weight, cout, (long) cin * k * k), null, y);
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                for (int o = 0; o < cout; o++) {
                    double want = 0;
                    for (int c = 0; c < cin; c++) {
                        for (int ky = 0; ky < k; ky++) {
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                                    want += (double) weight[((o * cin + c) * k + ky) * k + kx] * x[(iy * w + ix) * cin + c];
                                }
                            }
                        }
                    }
                    assertEquals(want, y[(oy * ow + ox) * cout + o], 1e-4);
                }
            }
        }
    }

    /** The cropped bilinear resize returns exactly the corner of the full resize (SAM crops its 1024² masks). */
    @Test
    void croppedBilinearIsTheCornerOfTheFullResize() {
        Random rnd = new Random(3);
        int inH = 7, inW = 9, c = 2, outH = 40, outW = 33, rows = 25, cols = 31;
        float[] x = new float[inH * inW * c];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[] full = Interpolate.bilinearHwc(x, inH, inW, c, outH, outW);
        float[] corner = Interpolate.bilinearHwc(x, inH, inW, c, outH, outW, rows, cols);
        for (int y = 0; y < rows; y++) {
            for (int x0 = 0; x0 < cols; x0++) {
                for (int ch = 0; ch < c; ch++) {
                    assertEquals(full[(y * outW + x0) * c + ch], corner[(y * cols + x0) * c + ch], 0f);
                }
            }
        }
    }

    /**
     * One channel (SAM's masks: rows interpolated along x once, then blended) gives the bits of the per-pixel path of
     * several, enlarging and shrinking.
     */
    @Test
    void oneChannelBilinearEqualsTheManyChannelPath() {
        oneChannelEqualsManyChannels(11, 13, 50, 61, 37, 59);
        oneChannelEqualsManyChannels(64, 61, 11, 13, 9, 12);
        oneChannelEqualsManyChannels(256, 256, 1024, 1024, 683, 1024);
    }

    private static void oneChannelEqualsManyChannels(int inH, int inW, int outH, int outW, int rows, int cols) {
        Random rnd = new Random(4);
        float[] two = new float[inH * inW * 2];
        float[] one = new float[inH * inW];
        for (int i = 0; i < one.length; i++) {
            one[i] = (float) rnd.nextGaussian() * 10;
            two[2 * i] = one[i];
            two[2 * i + 1] = (float) rnd.nextGaussian();
        }
        float[] a = Interpolate.bilinearHwc(one, inH, inW, 1, outH, outW, rows, cols);
        float[] b = Interpolate.bilinearHwc(two, inH, inW, 2, outH, outW, rows, cols);
        for (int i = 0; i < rows * cols; i++) {
            assertEquals(Float.floatToRawIntBits(b[2 * i]), Float.floatToRawIntBits(a[i]), "pixel " + i);
        }
    }
}
