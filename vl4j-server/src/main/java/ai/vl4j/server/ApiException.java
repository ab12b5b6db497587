package ai.vl4j.server;

/**
 * A request the server refuses, carried to the HTTP layer as OpenAI's error object:
 * {@code {"error": {"message", "type", "param", "code"}}} with the HTTP status.
 */
final class ApiException extends RuntimeException {
    final int status;
    final String type;
    final String param;
    final String code;

    ApiException(int status, String type, String message, String param, String code) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400: the request is wrong as sent. */
    static ApiException invalid(String message, String param) {
        return new ApiException(400, "invalid_request_error", message, param, null);
    }

    static ApiException invalid(String message, String param, String code) {
        return new ApiException(400, "invalid_request_error", message, param, code);
    }

    /** 413: the request or one of its images is over a size limit. */
    static ApiException tooLarge(String message, String param, String code) {
        return new ApiException(413, "invalid_request_error", message, param, code);
    }

    /** 401: no API key or the wrong one (OpenAI's shape and code). */
    static ApiException unauthorized(String message) {
        return new ApiException(401, "invalid_request_error", message, null, "invalid_api_key");
    }

    static ApiException contextExceeded(String message) {
        return new ApiException(400, "invalid_request_error", message, "messages", "context_length_exceeded");
    }

    static ApiException busy(String message) {
        return new ApiException(429, "rate_limit_error", message, null, "server_busy");
    }

    static ApiException internal(String message) {
        return new ApiException(500, "server_error", message, null, null);
    }

    static ApiException unavailable(String message) {
        return new ApiException(503, "server_error", message, null, "unavailable");
    }
}
