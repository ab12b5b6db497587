package ai.vl4j;

/**
 * The one exception type users of vl4j need to catch. Its message is a single line that names the
 * problem (the file, tensor, config key or argument at fault), fit to print as is.
 */
public class Vl4jException extends RuntimeException {
    public Vl4jException(String message) {
        super(message);
    }

    public Vl4jException(String message, Throwable cause) {
        super(message, cause);
    }
}
