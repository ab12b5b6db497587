package ai.vl4j.server;

import io.javalin.http.Context;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The server's API key: a request to {@code /v1/*} must carry {@code Authorization: Bearer KEY}, as OpenAI's clients
 * send their {@code api_key}, or it is answered 401 in OpenAI's error shape. Only the key's SHA-256 is kept, and
 * the comparison is of the two digests with {@link MessageDigest#isEqual} (constant time: how much of a guess is
 * right cannot be timed, nor its length). The key is never logged nor echoed.
 */
final class ApiKey {
    private static final String BEARER = "Bearer ";
    private final byte[] digest;

    ApiKey(String key) {
        this.digest = sha256(key);
    }

    /** A before-handler: passes, or throws the 401. */
    void check(Context ctx) {
        String header = ctx.header("Authorization");
        if (header == null || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            ctx.header("WWW-Authenticate", "Bearer");
            throw ApiException.unauthorized("this server needs an API key: send it as 'Authorization: Bearer KEY' "
                    + "(the api_key of OpenAI's clients)");
        }
        if (!MessageDigest.isEqual(digest, sha256(header.substring(BEARER.length()).strip()))) {
            ctx.header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
            throw ApiException.unauthorized("incorrect API key");
        }
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
