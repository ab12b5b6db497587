package ai.vl4j;

/**
 * A request the model cannot serve as given: a file that is not an image, images and placeholders that do
 * not pair up, a prompt longer than the context. Nothing in the loaded model is changed by such a request.
 */
public class InvalidInputException extends Vl4jException {
    public InvalidInputException(String message) {
        super(message);
    }

    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
