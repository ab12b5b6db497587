package ai.vl4j.train;

/**
 * The learning rate of step s (1-based): a linear warm-up from peak/W to peak over the first W steps, then
 * <ul>
 *   <li>{@code cosine}: peak·(r + (1 − r)·½·(1 + cos(π·(s − W)/(S − W)))), from peak at s = W to r·peak at s = S;
 *   <li>{@code constant}: peak;
 *   <li>{@code step}: peak·γ^⌊(s − W)/k⌋ (γ and k given).
 * </ul>
 * r is the min-lr ratio, S the total steps.
 */
public record LrSchedule(String kind, double peak, int warmup, int total, double minRatio, double gamma, int stepSize) {
    public LrSchedule {
        if (!kind.equals("cosine") && !kind.equals("constant") && !kind.equals("step")) {
            throw new IllegalArgumentException("--schedule must be cosine, constant or step, got " + kind);
        }
        if (!(peak > 0)) {
            throw new IllegalArgumentException("--lr must be positive, got " + peak);
        }
        if (warmup < 0 || total < 1) {
            throw new IllegalArgumentException("--warmup-steps must be at least 0 and --steps at least 1, got " + warmup + " and " + total);
        }
        if (!(minRatio >= 0 && minRatio <= 1)) {
            throw new IllegalArgumentException("--min-lr-ratio must be in [0, 1], got " + minRatio);
        }
        if (kind.equals("step") && (stepSize < 1 || !(gamma > 0))) {
            throw new IllegalArgumentException("the step schedule needs --lr-step-size >= 1 and --lr-gamma > 0");
        }
    }

    public static LrSchedule cosine(double peak, int warmup, int total, double minRatio) {
        return new LrSchedule("cosine", peak, warmup, total, minRatio, 1, 1);
    }

    /** The learning rate of step s, 1 ≤ s ≤ total. */
    public double at(int s) {
        if (warmup > 0 && s <= warmup) {
            return peak * s / warmup;
        }
        return switch (kind) {
            case "cosine" -> total <= warmup ? peak
                    : peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * (s - warmup) / (total - warmup))));
            case "constant" -> peak;
            default -> peak * Math.pow(gamma, (s - warmup) / stepSize);
        };
    }
}
