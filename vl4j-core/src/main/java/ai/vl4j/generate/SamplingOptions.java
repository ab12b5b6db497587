package ai.vl4j.generate;

/**
 * How the next token is chosen. Temperature 0 means greedy (argmax, lowest id on ties), as the reference's
 * {@code do_sample=False}; any positive temperature samples. Defaults follow transformers 4.38 generate():
 * top-k 50 is active whenever sampling, top-p 1 and repetition penalty 1 are off.
 *
 * @param maxNewTokens      stop after this many generated tokens (finish reason "length")
 * @param temperature       0 = greedy; otherwise logits are divided by it before sampling
 * @param topK              keep the k most likely tokens (0 = all)
 * @param topP              nucleus: keep the smallest set with probability mass ≥ topP (1 = all)
 * @param repetitionPenalty > 1 discourages tokens already generated (prompt tokens are not penalised)
 * @param seed              random seed for sampling; null = a fresh random seed
 */
public record SamplingOptions(int maxNewTokens, float temperature, int topK, float topP, float repetitionPenalty, Long seed) {

    public static final SamplingOptions GREEDY = new SamplingOptions(512, 0f, 50, 1f, 1f, null);

    public SamplingOptions {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("max new tokens must be >= 0, got " + maxNewTokens);
        }
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top-k must be >= 0, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        }
        if (!(repetitionPenalty > 0) || Float.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetition penalty must be > 0, got " + repetitionPenalty);
        }
    }

    public boolean greedy() {
        return temperature == 0f;
    }

    public SamplingOptions withMaxNewTokens(int n) {
        return new SamplingOptions(n, temperature, topK, topP, repetitionPenalty, seed);
    }
}
