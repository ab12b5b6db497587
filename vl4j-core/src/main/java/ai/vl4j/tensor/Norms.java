package ai.vl4j.tensor;

/** Row-wise normalisations over the last dimension, accumulated in double, stored as float32. */
public final class Norms {
    private Norms() {
    }

    /**
     * LayerNorm of each of the n rows of x [n, d] into out [n, d] (out may be x):
     * (x - mean) / sqrt(var + eps) · gamma + beta, with the biased variance.
     */
    public static void layerNorm(float[] x, float[] out, int n, int d, float[] gamma, float[] beta, float eps) {
        Parallel.forRange(0, n, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int off = r * d;
                double mean = mean(x, off, d);
                double inv = invStd(x, off, d, mean, eps);
                for (int i = 0; i < d; i++) {
                    out[off + i] = (float) ((x[off + i] - mean) * inv) * gamma[i] + beta[i];
                }
            }
        });
    }

    /**
     * RMSNorm (LLaMA) of each of the n rows of x [n, d] into out: x / sqrt(mean(x²) + eps) · weight.
     */
    public static void rmsNorm(float[] x, float[] out, int n, int d, float[] weight, float eps) {
        Parallel.forRange(0, n, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int off = r * d;
                float inv = (float) invRms(x, off, d, eps);
                for (int i = 0; i < d; i++) {
                    out[off + i] = weight[i] * (x[off + i] * inv);
                }
            }
        });
    }

    /**
     * Backward of {@link #rmsNorm}: with r = 1/sqrt(mean(x²) + eps) per row and y = w·(x·r),
     * dx = r·(w·dy) − x·r³·Σ(w·dy·x)/d  (written to dx), and dw += Σ_rows dy·x·r (dw null: the weight is frozen).
     * Sums in double.
     */
    public static void rmsNormBackward(float[] x, float[] dy, int n, int d, float[] weight, float eps, float[] dx, float[] dw) {
        double[] dwSum = dw == null ? null : new double[d];
        for (int r = 0; r < n; r++) {
            int off = r * d;
            double inv = invRms(x, off, d, eps);
            double dot = 0;
            for (int i = 0; i < d; i++) {
                dot += (double) weight[i] * dy[off + i] * x[off + i];
            }
            double c = inv * inv * inv * dot / d;
            for (int i = 0; i < d; i++) {
                dx[off + i] = (float) (inv * weight[i] * dy[off + i] - x[off + i] * c);
                if (dwSum != null) {
                    dwSum[i] += (double) dy[off + i] * x[off + i] * inv;
                }
            }
        }
        if (dw != null) {
            for (int i = 0; i < d; i++) {
                dw[i] += (float) dwSum[i];
            }
        }
    }

    /**
     * Backward of {@link #layerNorm}: with x̂ = (x − mean)·r and g = dy·γ per row, dx = r·(g − mean(g) − x̂·mean(g·x̂))
     * (written to dx; dx null: not needed), dγ += Σ_rows dy·x̂ and dβ += Σ_rows dy (null when frozen). Sums in double.
     */
    public static void layerNormBackward(float[] x, float[] dy, int n, int d, float[] gamma, float eps, float[] dx,
                                         float[] dGamma, float[] dBeta) {
        double[] dg = dGamma == null ? null : new double[d];
        double[] db = dBeta == null ? null : new double[d];
        double[] xhat = new double[d];
        for (int r = 0; r < n; r++) {
            int off = r * d;
            double mean = mean(x, off, d);
            double inv = invStd(x, off, d, mean, eps);
            double gMean = 0;
            double gxMean = 0;
            for (int i = 0; i < d; i++) {
                xhat[i] = (x[off + i] - mean) * inv;
                double g = (double) dy[off + i] * gamma[i];
                gMean += g;
                gxMean += g * xhat[i];
                if (dg != null) {
                    dg[i] += dy[off + i] * xhat[i];
                }
                if (db != null) {
                    db[i] += dy[off + i];
                }
            }
            gMean /= d;
            gxMean /= d;
            if (dx != null) {
                for (int i = 0; i < d; i++) {
                    dx[off + i] = (float) (inv * ((double) dy[off + i] * gamma[i] - gMean - xhat[i] * gxMean));
                }
            }
        }
        for (int i = 0; i < d; i++) {
            if (dGamma != null) {
                dGamma[i] += (float) dg[i];
            }
            if (dBeta != null) {
                dBeta[i] += (float) db[i];
            }
        }
    }

    /** The mean of x[off, off + d), in double. */
    private static double mean(float[] x, int off, int d) {
        double sum = 0;
        for (int i = 0; i < d; i++) {
            sum += x[off + i];
        }
        return sum / d;
    }

    /**
     * 1/sqrt(var + eps) of x[off, off + d) about mean (the biased variance), centred in double: inputs with a large
     * mean and a tiny spread would lose digits in float.
     */
    private static double invStd(float[] x, int off, int d, double mean, float eps) {
        double sq = 0;
        for (int i = 0; i < d; i++) {
            double c = x[off + i] - mean;
            sq += c * c;
        }
        return 1.0 / Math.sqrt(sq / d + eps);
    }

    /** 1/sqrt(mean(x²) + eps) of x[off, off + d), in double. */
    private static double invRms(float[] x, int off, int d, float eps) {
        double sq = 0;
        for (int i = 0; i < d; i++) {
            sq += (double) x[off + i] * x[off + i];
        }
        return 1.0 / Math.sqrt(sq / d + eps);
    }
}
