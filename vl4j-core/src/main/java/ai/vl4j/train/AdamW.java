package ai.vl4j.train;

import ai.vl4j.nn.Parameter;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.AdamW (amsgrad off), step by step as PyTorch's single-tensor implementation computes it, in float32:
 * <pre>
 *   p ← p·(1 − lr·wd_p)                                   decoupled weight decay first
 *   m ← m + (1 − β1)·(g − m);   v ← β2·v + (1 − β2)·g²     (m = v = 0 before step 1)
 *   p ← p − (lr / (1 − β1^s))·m / (sqrt(v) / sqrt(1 − β2^s) + eps)
 * </pre>
 * State (m and v) only for the parameters that train. Weight decay applies to the parameters {@link #decays} picks:
 * every one with exactly two dimensions (linear weights, lm_head, LoRA matrices) but the token embedding.
 */
public final class AdamW {
    private final float beta1;
    private final float beta2;
    private final float eps;
    private final float weightDecay;
    private final Map<Parameter, float[][]> moments = new IdentityHashMap<>();   // p -> {m, v}
    private int steps;

    public AdamW(float beta1, float beta2, float eps, float weightDecay) {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("--betas must each be in [0, 1), got " + beta1 + "," + beta2);
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("--eps must be positive, got " + eps);
        }
        if (!(weightDecay >= 0)) {
            throw new IllegalArgumentException("--weight-decay must be at least 0, got " + weightDecay);
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** Whether a parameter takes weight decay: exactly two dimensions, and not the token embedding. */
    public static boolean decays(Parameter p) {
        return p.rank() == 2 && !p.name().endsWith("embed_tokens.weight");
    }

    /** Optimizer steps taken so far. */
    public int steps() {
        return steps;
    }

    /** One step over parameters (their gradients, already clipped) with learning rate lr. */
    public void step(List<Parameter> parameters, double lr) {
        steps++;
        double bc1 = 1 - Math.pow(beta1, steps);
        double bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, steps));
        float stepSize = (float) (lr / bc1);
        float bc2 = (float) bc2Sqrt;
        for (Parameter p : parameters) {
            if (!p.trainable()) {
                continue;
            }
            float[] w = p.values();
            float[] g = p.grad();
            float[][] mv = moments.computeIfAbsent(p, q -> new float[][] {new float[w.length], new float[w.length]});
            float[] m = mv[0];
            float[] v = mv[1];
            float decay = decays(p) ? (float) (1 - lr * weightDecay) : 1f;
            float oneMinusBeta1 = 1 - beta1;
            float oneMinusBeta2 = 1 - beta2;
            ai.vl4j.tensor.Parallel.forRange(0, w.length, 1 << 14, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    w[i] *= decay;
                    m[i] += oneMinusBeta1 * (g[i] - m[i]);
                    v[i] = beta2 * v[i] + oneMinusBeta2 * g[i] * g[i];
                    float denom = (float) Math.sqrt(v[i]) / bc2 + eps;
                    w[i] -= stepSize * (m[i] / denom);
                }
            });
        }
    }

    /** The moments of a parameter ({m, v}), or null before its first step (for checkpoints). */
    public float[][] moments(Parameter p) {
        return moments.get(p);
    }

    /** Restores a parameter's moments and the step count (resuming from a checkpoint). */
    public void restore(int steps, Map<Parameter, float[][]> state) {
        this.steps = steps;
        moments.clear();
        moments.putAll(state);
    }
}
