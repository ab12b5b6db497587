package ai.vl4j.server;

import ai.vl4j.Fixtures;
import ai.vl4j.sam.Sam;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.zeroshot.ZeroShotClassifier;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * A server on the tiny 1.3B-layout fixture model, on 127.0.0.1 and a free port, and a java.net.http client for
 * it. The model is loaded once per test JVM and shared (a loaded model holds no per-request state).
 */
final class TestServer implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path IMAGES = Fixtures.TINY_13B.resolve("images");
    private static DeepSeekVl model;

    final OpenAiServer server;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final ByteArrayOutputStream log = new ByteArrayOutputStream();

    TestServer(ServerConfig config) {
        this(config, (ZeroShotClassifier) null, null);
    }

    /** With /v1/classify and /v1/embeddings served by a SigLIP or CLIP model. */
    TestServer(ServerConfig config, ZeroShotClassifier zeroShot, String zeroShotId) {
        this.server = OpenAiServer.start(model(), zeroShot, zeroShotId, config.withHost("127.0.0.1").withPort(0),
                new PrintStream(log, true, StandardCharsets.UTF_8));
    }

    /** With /v1/segment served by a SAM model (the web page then offers its segmentation view). */
    TestServer(ServerConfig config, Sam sam, String samId) {
        this.server = OpenAiServer.start(model(), null, null, sam, samId, config.withHost("127.0.0.1").withPort(0),
                new PrintStream(log, true, StandardCharsets.UTF_8));
    }

    TestServer() {
        this(config());
    }

    static ServerConfig config() {
        return ServerConfig.defaults("tiny-dsvl-1.3b");
    }

    static synchronized DeepSeekVl model() {
        if (model == null) {
            model = DeepSeekVl.load(Fixtures.TINY_13B_MODEL);
        }
        return model;
    }

    String log() {
        return log.toString(StandardCharsets.UTF_8);
    }

    URI uri(String path) {
        return URI.create(server.url()).resolve(path);
    }

    /** A response: status, headers' Retry-After and Allow, body. */
    record Reply(int status, String body, String retryAfter, String contentType, String allow) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON (" + status + "): " + body, e);
            }
        }
    }

    Reply get(String path) {
        return send(HttpRequest.newBuilder(uri(path)).GET().build());
    }

    Reply post(String path, String body) {
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    Reply chat(JsonNode body) {
        return post("/v1/chat/completions", body.toString());
    }

    private Reply send(HttpRequest request) {
        try {
            HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
            return new Reply(r.statusCode(), r.body(), r.headers().firstValue("Retry-After").orElse(null),
                    r.headers().firstValue("Content-Type").orElse(""), r.headers().firstValue("Allow").orElse(null));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Opens a streaming request; the caller reads events and closes it. */
    SseStream stream(JsonNode body) {
        try {
            HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(uri("/v1/chat/completions"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofInputStream());
            return new SseStream(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The data: payloads of an SSE response, one at a time. */
    static final class SseStream implements AutoCloseable {
        final int status;
        final String contentType;
        private final InputStream body;
        private final BufferedReader reader;

        SseStream(int status, String contentType, InputStream body) {
            this.status = status;
            this.contentType = contentType;
            this.body = body;
            this.reader = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8));
        }

        /** The next data payload ("[DONE]" included), or null at the end of the stream. */
        String next() throws IOException {
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.startsWith("data: ")) {
                    return line.substring(6);
                }
            }
            return null;
        }

        /** All remaining payloads. */
        List<String> rest() throws IOException {
            List<String> all = new ArrayList<>();
            String d;
            while ((d = next()) != null) {
                all.add(d);
            }
            return all;
        }

        @Override
        public void close() throws IOException {
            body.close();
        }
    }

    /** The text of a whole stream's chunks, checking the framing on the way. */
    static String streamedText(List<String> payloads) throws IOException {
        StringBuilder text = new StringBuilder();
        for (String p : payloads) {
            if (p.equals("[DONE]")) {
                continue;
            }
            JsonNode chunk = JSON.readTree(p);
            for (JsonNode choice : chunk.path("choices")) {
                JsonNode content = choice.path("delta").path("content");
                if (content.isTextual()) {
                    text.append(content.asText());
                }
            }
        }
        return text.toString();
    }

    static String dataUri(Path file) {
        try {
            String mime = file.toString().endsWith(".png") ? "image/png" : "image/jpeg";
            return "data:" + mime + ";base64," + Base64.getEncoder().encodeToString(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {"model":..,"messages":[{"role":"user","content":[image parts..., text]}], temperature 0, max_tokens}. */
    static ObjectNode request(String text, int maxTokens, String... imageUrls) {
        ObjectNode body = JSON.createObjectNode();
        body.put("model", "tiny");
        body.put("temperature", 0);
        body.put("max_tokens", maxTokens);
        ArrayNode content = body.putArray("messages").addObject().put("role", "user").putArray("content");
        for (String url : imageUrls) {
            content.addObject().put("type", "image_url").putObject("image_url").put("url", url);
        }
        content.addObject().put("type", "text").put("text", text);
        return body;
    }

    @Override
    public void close() {
        server.close();
    }
}
