package ai.vl4j;

/** A model folder that cannot be used: corrupt or truncated safetensors, a bad config, a missing tensor. */
public class ModelFormatException extends Vl4jException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
