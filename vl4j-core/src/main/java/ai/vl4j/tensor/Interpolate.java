package ai.vl4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * PyTorch's 2-D resampling of float32 maps, reproduced in its own float arithmetic.
 *
 * <pre>
 * bilinear (F.interpolate, align_corners=False, no antialias), per axis and output index d:
 *   src = max(scale·(d + 0.5) − 0.5, 0),  scale = in/out (float)
 *   i0 = (int) src,  i1 = min(i0 + 1, in − 1),  λ = src − i0
 *   out = (1−λy)·((1−λx)·x[i0y,i0x] + λx·x[i0y,i1x]) + λy·((1−λx)·x[i1y,i0x] + λx·x[i1y,i1x])
 *
 * antialiased bilinear (F.interpolate(..., antialias=True), torchvision Resize), per axis:
 *   scale = in/out, support = scale (downscaling), center = scale·(o + 0.5)
 *   xmin = max((int)(center − support + 0.5), 0),  xmax = min((int)(center + support + 0.5), in)
 *   w_j = max(0, 1 − |(j + xmin − center + 0.5)/scale|), normalised to sum 1 (float32, as torch)
 *   width pass first, then height; intermediate kept in float32
 * </pre>
 */
public final class Interpolate {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

    private Interpolate() {
    }

    /**
     * Plain bilinear resize of an HWC map [inH, inW, c] to [outH, outW, c] (align_corners=False).
     */
    public static float[] bilinearHwc(float[] x, int inH, int inW, int c, int outH, int outW) {
        return bilinearHwc(x, inH, inW, c, outH, outW, outH, outW);
    }

    /**
     * The top-left rows × cols of the bilinear resize of [inH, inW, c] to [outH, outW, c], as [rows, cols, c]: the
     * same values as resizing and then cropping, without computing what the crop drops.
     */
    public static float[] bilinearHwc(float[] x, int inH, int inW, int c, int outH, int outW, int rows, int cols) {
        float[] out = new float[rows * cols * c];
        Axis ys = Axis.of(inH, outH, rows);
        Axis xs = Axis.of(inW, outW, cols);
        if (c == 1) {
            bilinearRows(x, inW, ys, xs, out, rows, cols);
            return out;
        }
        Parallel.forRange(0, rows, 1, (lo, hi) -> {
            for (int oy = lo; oy < hi; oy++) {
                int y0 = ys.i0[oy];
                int y1 = ys.i1[oy];
                float ly = ys.l[oy];
                float hy = 1f - ly;
                for (int ox = 0; ox < cols; ox++) {
                    float wx1 = xs.l[ox];
                    float wx0 = 1f - wx1;
                    int a = (y0 * inW + xs.i0[ox]) * c;
                    int b = (y0 * inW + xs.i1[ox]) * c;
                    int d = (y1 * inW + xs.i0[ox]) * c;
                    int e = (y1 * inW + xs.i1[ox]) * c;
                    int o = (oy * cols + ox) * c;
                    for (int ch = 0; ch < c; ch++) {
                        out[o + ch] = hy * (wx0 * x[a + ch] + wx1 * x[b + ch]) + ly * (wx0 * x[d + ch] + wx1 * x[e + ch]);
                    }
                }
            }
        });
        return out;
    }

    /**
     * Where the first n outputs of one axis (align_corners=False, in → out) read: neighbours i0 ≤ i1 and the weight
     * l of i1 (1 − l of i0). i0 and i1 never decrease along the axis.
     */
    private record Axis(int[] i0, int[] i1, float[] l) {
        static Axis of(int in, int out, int n) {
            float scale = (float) in / out;
            int[] i0 = new int[n];
            int[] i1 = new int[n];
            float[] l = new float[n];
            for (int o = 0; o < n; o++) {
                float src = Math.max(scale * (o + 0.5f) - 0.5f, 0f);
                i0[o] = (int) src;
                i1[o] = Math.min(i0[o] + 1, in - 1);
                l[o] = src - i0[o];
            }
            return new Axis(i0, i1, l);
        }
    }

    /**
     * One channel (masks), separably: the input rows a block of output rows reads are first interpolated along x
     * (wx0·a + wx1·b, LANES outputs at a time from gathered neighbours), each once however many output rows use it
     * (four when enlarging 4×), then each output row blends its two: hy·top + ly·bottom on contiguous vectors. The
     * same multiplications and additions in the same order as the per-pixel form, so the same values.
     */
    private static void bilinearRows(float[] x, int inW, Axis ys, Axis xs, float[] out, int rows, int cols) {
        Parallel.forRange(0, rows, 1, (lo, hi) -> {
            int first = ys.i0[lo];
            int last = ys.i1[hi - 1];
            float[] across = new float[(last - first + 1) * cols];      // input rows first..last along x
            for (int y = first; y <= last; y++) {
                int row = y * inW;
                int to = (y - first) * cols;
                int ox = 0;
                for (; ox <= cols - FS.length(); ox += FS.length()) {
                    FloatVector wx1 = FloatVector.fromArray(FS, xs.l, ox);
                    FloatVector wx0 = FloatVector.broadcast(FS, 1f).sub(wx1);
                    FloatVector a = FloatVector.fromArray(FS, x, row, xs.i0, ox);
                    FloatVector b = FloatVector.fromArray(FS, x, row, xs.i1, ox);
                    wx0.mul(a).add(wx1.mul(b)).intoArray(across, to + ox);
                }
                for (; ox < cols; ox++) {
                    float wx1 = xs.l[ox];
                    float wx0 = 1f - wx1;
                    across[to + ox] = wx0 * x[row + xs.i0[ox]] + wx1 * x[row + xs.i1[ox]];
                }
            }
            for (int oy = lo; oy < hi; oy++) {
                float ly = ys.l[oy];
                float hy = 1f - ly;
                int top = (ys.i0[oy] - first) * cols;
                int bottom = (ys.i1[oy] - first) * cols;
                int o = oy * cols;
                FloatVector vhy = FloatVector.broadcast(FS, hy);
                FloatVector vly = FloatVector.broadcast(FS, ly);
                int ox = 0;
                for (; ox <= cols - FS.length(); ox += FS.length()) {
                    vhy.mul(FloatVector.fromArray(FS, across, top + ox)).add(vly.mul(FloatVector.fromArray(FS, across, bottom + ox)))
                            .intoArray(out, o + ox);
                }
                for (; ox < cols; ox++) {
                    out[o + ox] = hy * across[top + ox] + ly * across[bottom + ox];
                }
            }
        });
    }

    /** Filter taps of one antialiased axis: output o reads start[o] .. start[o] + count[o] − 1 with weights[o·maxTaps + j]. */
    record Taps(int[] start, int[] count, float[] weights, int maxTaps) {
    }

    /** torch's _compute_weights_aa for the bilinear (triangle) filter, float32 like torch on float tensors. */
    static Taps antialiasTaps(int in, int out) {
        float scale = (float) in / out;
        float support = scale >= 1f ? scale : 1f;            // interp_size/2 · scale, interp_size = 2
        float invScale = scale >= 1f ? (float) (1.0 / scale) : 1f;
        int maxTaps = (int) Math.ceil(support) * 2 + 1;
        int[] start = new int[out];
        int[] count = new int[out];
        float[] weights = new float[out * maxTaps];
        for (int o = 0; o < out; o++) {
            float center = (float) (scale * (o + 0.5));
            int xmin = Math.max((int) (center - support + 0.5), 0);
            int xsize = Math.min((int) (center + support + 0.5), in) - xmin;
            float total = 0f;
            for (int j = 0; j < xsize; j++) {
                float t = (float) (((j + xmin) - center + 0.5) * invScale);
                float w = Math.abs(t) < 1f ? 1f - Math.abs(t) : 0f;
                weights[o * maxTaps + j] = w;
                total += w;
            }
            if (total != 0f) {
                for (int j = 0; j < xsize; j++) {
                    weights[o * maxTaps + j] /= total;
                }
            }
            start[o] = xmin;
            count[o] = xsize;
        }
        return new Taps(start, count, weights, maxTaps);
    }

    /**
     * Antialiased bilinear resize of a CHW image [c, inH, inW] to [c, outH, outW] (torchvision
     * Resize(antialias=True) on a float tensor).
     */
    public static float[] antialiasBilinearChw(float[] x, int c, int inH, int inW, int outH, int outW) {
        Taps tw = antialiasTaps(inW, outW);
        Taps th = antialiasTaps(inH, outH);
        float[] mid = new float[c * inH * outW];               // width pass: [c, inH, outW]
        Parallel.forRange(0, c * inH, 16, (lo, hi) -> {
            for (int row = lo; row < hi; row++) {
                int src = row * inW;
                int dst = row * outW;
                for (int o = 0; o < outW; o++) {
                    mid[dst + o] = weighted(x, src + tw.start[o], 1, tw, o);
                }
            }
        });
        float[] out = new float[c * outH * outW];              // height pass: [c, outH, outW]
        Parallel.forRange(0, c * outH, 16, (lo, hi) -> {
            for (int row = lo; row < hi; row++) {
                int ch = row / outH;
                int o = row % outH;
                for (int xo = 0; xo < outW; xo++) {
                    out[row * outW + xo] = weighted(mid, (ch * inH + th.start[o]) * outW + xo, outW, th, o);
                }
            }
        });
        return out;
    }

    private static float weighted(float[] x, int first, int stride, Taps taps, int o) {
        int base = o * taps.maxTaps;
        float t = taps.weights[base] * x[first];
        for (int j = 1; j < taps.count[o]; j++) {
            t += taps.weights[base + j] * x[first + j * stride];
        }
        return t;
    }
}
