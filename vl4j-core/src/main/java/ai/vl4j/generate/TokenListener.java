package ai.vl4j.generate;

/** Receives generated tokens as they are produced. */
@FunctionalInterface
public interface TokenListener {
    /**
     * @param id   the token id
     * @param text the text this token completes: may be empty when the token ends inside a UTF-8 character;
     *             the pieces of one generation concatenate to its full text
     */
    void onToken(int id, String text);

    /**
     * A stage of the work before the first token finished (e.g. "image 1/2 vision", "prefill 625 tokens"):
     * for progress displays. Does nothing unless overridden.
     */
    default void onStage(String stage, double seconds) {
    }

    /**
     * Polled after each token: true stops the generation there (finish reason CANCELLED), e.g. when the user
     * presses Ctrl-C or a client goes away. False unless overridden.
     */
    default boolean stopRequested() {
        return false;
    }

    TokenListener NONE = (id, text) -> { };
}
