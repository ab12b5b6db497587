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
                double sum = 0;
                for (int i = 0; i < d; i++) {
                    sum += x[off + i];
                }
                // Centre in double: inputs with a large mean and a tiny spread would lose digits in float.
                double mean = sum / d;
                double sq = 0;
                for (int i = 0; i < d; i++) {
                    double c = x[off + i] - mean;
                    sq += c * c;
                }
                double inv = 1.0 / Math.sqrt(sq / d + eps);
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
                double sq = 0;
                for (int i = 0; i < d; i++) {
                    sq += (double) x[off + i] * x[off + i];
                }
                float inv = (float) (1.0 / Math.sqrt(sq / d + eps));
                for (int i = 0; i < d; i++) {
                    out[off + i] = weight[i] * (x[off + i] * inv);
                }
            }
        });
    }
}
