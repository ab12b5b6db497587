package ai.vl4j.generate;

/** Why generation ended. */
public enum FinishReason {
    /** The model produced its end-of-sentence token. */
    STOP,
    /** The token budget (max new tokens, or the context window) ran out. */
    LENGTH;

    /** The OpenAI / JSON spelling. */
    public String json() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
