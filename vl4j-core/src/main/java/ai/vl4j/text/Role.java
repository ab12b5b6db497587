package ai.vl4j.text;

/** Speakers of the deepseek template; the template writes them exactly as "User" and "Assistant". */
public enum Role {
    USER("User"), ASSISTANT("Assistant");

    /** The literal role string of the prompt. */
    public final String label;

    Role(String label) {
        this.label = label;
    }
}
