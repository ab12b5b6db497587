package ai.vl4j.generate;

/** Why generation ended. */
public enum FinishReason {
    /** The model produced its end-of-sentence token. */
    STOP,
    /** The token budget (max new tokens, or the context window) ran out. */
    LENGTH,
    /** The listener asked to stop (a user's Ctrl-C, a client that went away). */
    CANCELLED;

    /** The OpenAI / JSON spelling. */
    public String json() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
