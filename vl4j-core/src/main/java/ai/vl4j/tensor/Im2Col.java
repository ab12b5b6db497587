package ai.vl4j.tensor;

/**
 * Unfolds the k×k neighbourhoods of an HWC map into rows, so a convolution becomes one matrix product with
 * its weight [out, in, k, k] seen as [out, in·k·k]:
 * <pre>
 *   row (oy, ox), column c·k·k + ky·k + kx  =  x[oy·stride − pad + ky, ox·stride − pad + kx, c]   (0 outside)
 * </pre>
 */
public final class Im2Col {
    private Im2Col() {
    }

    public static int outSize(int in, int k, int stride, int pad) {
        return (in + 2 * pad - k) / stride + 1;
    }

    /** x [h, w, c] -> [outH·outW, c·k·k]. */
    public static float[] unfold(float[] x, int h, int w, int c, int k, int stride, int pad) {
        int outH = outSize(h, k, stride, pad);
        int outW = outSize(w, k, stride, pad);
        int cols = c * k * k;
        float[] out = new float[outH * outW * cols];
        Parallel.forRange(0, outH, 1, (lo, hi) -> {
            for (int oy = lo; oy < hi; oy++) {
                for (int ox = 0; ox < outW; ox++) {
                    int row = (oy * outW + ox) * cols;
                    for (int ky = 0; ky < k; ky++) {
                        int iy = oy * stride - pad + ky;
                        if (iy < 0 || iy >= h) {
                            continue;
                        }
                        for (int kx = 0; kx < k; kx++) {
                            int ix = ox * stride - pad + kx;
                            if (ix < 0 || ix >= w) {
                                continue;
                            }
                            int src = (iy * w + ix) * c;
                            int dst = row + ky * k + kx;
                            for (int ch = 0; ch < c; ch++) {
                                out[dst + ch * k * k] = x[src + ch];
                            }
                        }
                    }
                }
            }
        });
        return out;
    }
}
