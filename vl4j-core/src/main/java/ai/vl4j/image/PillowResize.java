package ai.vl4j.image;

import java.util.function.DoubleUnaryOperator;

/**
 * Pillow's {@code Image.resize(size, BICUBIC)} (spec §4 step 3) and {@code Image.resize(size, BILINEAR)} (SAM's
 * {@code ResizeLongestSide}) for 8-bit RGB, bit for bit: a separable filter, horizontal pass first, the
 * intermediate image rounded to uint8, weights in 22-bit fixed point.
 *
 * <pre>
 * per pass, output index o:  scale = in/out,  fs = max(scale, 1),  support = s·fs,  center = (o + 0.5)·scale
 *   xmin = max((int)(center − support + 0.5), 0),  xmax = min((int)(center + support + 0.5), in)
 *   w_j  = K((j + xmin − center + 0.5) / fs) / Σ K
 *   k_j  = (int)(w_j · 2²² ± 0.5),   out = clamp((2²¹ + Σ pixel·k_j) >> 22, 0, 255)
 * bicubic: K = Keys cubic with a = −0.5, s = 2;   bilinear: K = max(0, 1 − |x|) (the triangle), s = 1
 * </pre>
 */
public final class PillowResize {
    private static final int PRECISION_BITS = 32 - 8 - 2;
    private static final double A = -0.5;

    /** A resampling filter: its kernel K and support s (in input pixels at scale 1). */
    private record Filter(double support, DoubleUnaryOperator kernel) {
    }

    private static final Filter BICUBIC = new Filter(2.0, PillowResize::bicubicKernel);
    private static final Filter BILINEAR = new Filter(1.0, x -> Math.abs(x) < 1.0 ? 1.0 - Math.abs(x) : 0.0);

    private PillowResize() {
    }

    public static RgbImage bicubic(RgbImage in, int outWidth, int outHeight) {
        return resize(in, outWidth, outHeight, BICUBIC);
    }

    public static RgbImage bilinear(RgbImage in, int outWidth, int outHeight) {
        return resize(in, outWidth, outHeight, BILINEAR);
    }

    private static RgbImage resize(RgbImage in, int outWidth, int outHeight, Filter filter) {
        if (outWidth <= 0 || outHeight <= 0) {
            throw new IllegalArgumentException("resize to " + outWidth + "x" + outHeight);
        }
        RgbImage img = in;
        if (outWidth != img.width()) {
            img = horizontal(img, outWidth, filter);
        }
        if (outHeight != img.height()) {
            img = vertical(img, outHeight, filter);
        }
        return img == in ? new RgbImage(in.width(), in.height(), in.rgb().clone()) : img;
    }

    /** Fixed-point filter taps of one pass: for output o, source start bounds[2o], count bounds[2o+1], taps at o·ksize. */
    private record Coefficients(int ksize, int[] bounds, int[] taps) {
    }

    static double bicubicKernel(double x) {
        if (x < 0.0) {
            x = -x;
        }
        if (x < 1.0) {
            return ((A + 2.0) * x - (A + 3.0)) * x * x + 1;
        }
        if (x < 2.0) {
            return (((x - 5) * x + 8) * x - 4) * A;
        }
        return 0.0;
    }

    private static Coefficients coefficients(int inSize, int outSize, Filter filter) {
        double scale = (double) inSize / outSize;
        double filterScale = Math.max(scale, 1.0);
        double support = filter.support() * filterScale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] bounds = new int[outSize * 2];
        int[] taps = new int[outSize * ksize];
        double[] weights = new double[ksize];
        for (int o = 0; o < outSize; o++) {
            double center = (o + 0.5) * scale;
            double invScale = 1.0 / filterScale;
            int xmin = (int) (center - support + 0.5);
            if (xmin < 0) {
                xmin = 0;
            }
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) {
                xmax = inSize;
            }
            xmax -= xmin;
            double sum = 0.0;
            for (int x = 0; x < xmax; x++) {
                double w = filter.kernel().applyAsDouble((x + xmin - center + 0.5) * invScale);
                weights[x] = w;
                sum += w;
            }
            for (int x = 0; x < xmax; x++) {
                double w = sum != 0.0 ? weights[x] / sum : weights[x];
                taps[o * ksize + x] = w < 0 ? (int) (-0.5 + w * (1 << PRECISION_BITS)) : (int) (0.5 + w * (1 << PRECISION_BITS));
            }
            bounds[o * 2] = xmin;
            bounds[o * 2 + 1] = xmax;
        }
        return new Coefficients(ksize, bounds, taps);
    }

    private static int clip8(int acc) {
        if (acc >= (1 << PRECISION_BITS << 8)) {
            return 255;
        }
        if (acc <= 0) {
            return 0;
        }
        return acc >> PRECISION_BITS;
    }

    private static RgbImage horizontal(RgbImage in, int outWidth, Filter filter) {
        Coefficients k = coefficients(in.width(), outWidth, filter);
        int h = in.height();
        byte[] src = in.rgb();
        byte[] dst = new byte[outWidth * h * 3];
        for (int y = 0; y < h; y++) {
            int rowIn = y * in.width() * 3;
            int rowOut = y * outWidth * 3;
            for (int o = 0; o < outWidth; o++) {
                int xmin = k.bounds[o * 2];
                int count = k.bounds[o * 2 + 1];
                int t0 = o * k.ksize;
                for (int c = 0; c < 3; c++) {
                    int acc = 1 << (PRECISION_BITS - 1);
                    for (int x = 0; x < count; x++) {
                        acc += (src[rowIn + (xmin + x) * 3 + c] & 0xff) * k.taps[t0 + x];
                    }
                    dst[rowOut + o * 3 + c] = (byte) clip8(acc);
                }
            }
        }
        return new RgbImage(outWidth, h, dst);
    }

    private static RgbImage vertical(RgbImage in, int outHeight, Filter filter) {
        Coefficients k = coefficients(in.height(), outHeight, filter);
        int w = in.width();
        byte[] src = in.rgb();
        byte[] dst = new byte[w * outHeight * 3];
        for (int o = 0; o < outHeight; o++) {
            int ymin = k.bounds[o * 2];
            int count = k.bounds[o * 2 + 1];
            int t0 = o * k.ksize;
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    int acc = 1 << (PRECISION_BITS - 1);
                    for (int y = 0; y < count; y++) {
                        acc += (src[((ymin + y) * w + x) * 3 + c] & 0xff) * k.taps[t0 + y];
                    }
                    dst[(o * w + x) * 3 + c] = (byte) clip8(acc);
                }
            }
        }
        return new RgbImage(w, outHeight, dst);
    }
}
