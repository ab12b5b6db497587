package ai.vl4j.train;

import ai.vl4j.nn.Parameter;
import java.util.List;

/** torch.nn.utils.clip_grad_norm_: one L2 norm over every trainable gradient, and one scale for all. */
public final class GradClip {
    private GradClip() {
    }

    /** sqrt(Σ over trainable parameters of Σ g²), in double. */
    public static double norm(List<Parameter> parameters) {
        double sum = 0;
        for (Parameter p : parameters) {
            if (p.trainable()) {
                for (float g : p.grad()) {
                    sum += (double) g * g;
                }
            }
        }
        return Math.sqrt(sum);
    }

    /** Scales every gradient by min(1, maxNorm / (norm + 1e-6)); returns that coefficient. */
    public static double clip(List<Parameter> parameters, double norm, double maxNorm) {
        double coef = Math.min(1.0, maxNorm / (norm + 1e-6));
        if (coef < 1) {
            float c = (float) coef;
            for (Parameter p : parameters) {
                if (p.trainable()) {
                    float[] g = p.grad();
                    for (int i = 0; i < g.length; i++) {
                        g[i] *= c;
                    }
                }
            }
        }
        return coef;
    }
}
