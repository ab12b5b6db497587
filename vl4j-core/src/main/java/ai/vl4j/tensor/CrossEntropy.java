package ai.vl4j.tensor;

/**
 * Token cross-entropy over a vocabulary: for a row of logits z and its target y, CE = logsumexp(z) − z[y] (sums in
 * double), and its gradient softmax(z) − onehot(y).
 */
public final class CrossEntropy {
    private CrossEntropy() {
    }

    /**
     * Σ_rows CE(logits row, targets[row]) over rows [0, n) of logits [n, v]; each row is replaced by scale·(softmax −
     * onehot(target)), the gradient of scale·Σ CE with respect to it.
     */
    public static double lossAndGradient(float[] logits, int n, int v, int[] targets, float scale) {
        double[] losses = new double[n];
        Parallel.forRange(0, n, 1, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int off = r * v;
                int y = targets[r];
                if (y < 0 || y >= v) {
                    throw new IllegalArgumentException("target " + y + " outside the vocabulary (0.." + (v - 1) + ")");
                }
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < v; j++) {
                    max = Math.max(max, logits[off + j]);
                }
                double sum = 0;
                for (int j = 0; j < v; j++) {
                    sum += Math.exp(logits[off + j] - max);
                }
                double lse = max + Math.log(sum);
                float zy = logits[off + y];
                losses[r] = lse - zy;
                for (int j = 0; j < v; j++) {
                    logits[off + j] = (float) (scale * Math.exp(logits[off + j] - lse));
                }
                logits[off + y] = (float) (scale * (Math.exp(zy - lse) - 1));
            }
        });
        double total = 0;
        for (double l : losses) {
            total += l;
        }
        return total;
    }
}
