package ai.vl4j.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits in the order of transformers 4.38: repetition penalty (on generated ids
 * only), then, when sampling, temperature → top-k → top-p → softmax → one multinomial draw.
 */
public final class Sampler {
    private final SamplingOptions options;
    private final SplittableRandom random;

    public Sampler(SamplingOptions options) {
        this.options = options;
        this.random = options.seed() == null ? new SplittableRandom() : new SplittableRandom(options.seed());
    }

    /**
     * @param logits    scores of every vocabulary id (modified in place)
     * @param generated ids generated so far in this sequence
     * @param count     how many entries of generated are valid
     */
    public int next(float[] logits, int[] generated, int count) {
        applyRepetitionPenalty(logits, generated, count, options.repetitionPenalty());
        if (options.greedy()) {
            return argmax(logits);
        }
        float invT = 1f / options.temperature();
        for (int i = 0; i < logits.length; i++) {
            logits[i] *= invT;
        }
        if (options.topK() > 0 && options.topK() < logits.length) {
            keepTopK(logits, options.topK());
        }
        if (options.topP() < 1f) {
            keepTopP(logits, options.topP());
        }
        return draw(logits);
    }

    /** Lowest index of the largest value. */
    public static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }

    /** Each distinct id already generated: logit < 0 ? logit·p : logit/p. */
    static void applyRepetitionPenalty(float[] logits, int[] generated, int count, float penalty) {
        if (penalty == 1f) {
            return;
        }
        boolean[] seen = new boolean[logits.length];
        for (int i = 0; i < count; i++) {
            int id = generated[i];
            if (id >= 0 && id < logits.length && !seen[id]) {
                seen[id] = true;
                logits[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty;
            }
        }
    }

    /** Sets to -inf every logit below the k-th largest (ties with the k-th are kept, as torch.topk thresholding). */
    static void keepTopK(float[] logits, int k) {
        float[] sorted = logits.clone();
        Arrays.sort(sorted);
        float threshold = sorted[sorted.length - k];
        for (int i = 0; i < logits.length; i++) {
            if (logits[i] < threshold) {
                logits[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /**
     * Nucleus filter of TopPLogitsWarper: sort ascending, softmax, cumulative sum; drop tokens whose cumulative
     * probability is ≤ 1 − p; the most likely token always stays.
     */
    static void keepTopP(float[] logits, float p) {
        int n = logits.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Float.compare(logits[a], logits[b]));
        float max = logits[order[n - 1]];
        double sum = 0;
        double[] probs = new double[n];
        for (int i = 0; i < n; i++) {
            probs[i] = Math.exp(logits[order[i]] - max);
            sum += probs[i];
        }
        double cumulative = 0;
        for (int i = 0; i < n - 1; i++) {
            cumulative += probs[i] / sum;
            if (cumulative <= 1.0 - p) {
                logits[order[i]] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    private int draw(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] probs = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            probs[i] = logits[i] == Float.NEGATIVE_INFINITY ? 0 : Math.exp(logits[i] - max);
            sum += probs[i];
        }
        double u = random.nextDouble() * sum;
        int last = 0;
        for (int i = 0; i < probs.length; i++) {
            if (probs[i] > 0) {
                last = i;
                u -= probs[i];
                if (u < 0) {
                    return i;
                }
            }
        }
        return last;
    }
}
