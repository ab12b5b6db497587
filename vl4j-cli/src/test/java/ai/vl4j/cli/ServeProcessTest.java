package ai.vl4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code vl4j serve} as a real server process, as a team would run it: an API key from VL4J_API_KEY, the documented
 * size limits, HTTP semantics, errors in our words, and SIGTERM with a request in flight (drained, exit 0).
 */
class ServeProcessTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String KEY = "test-key-5d1c9a";
    static final HttpClient HTTP = HttpClient.newHttpClient();

    /** A running {@code vl4j serve}: its process, base URL and everything it wrote on stderr so far. */
    record Server(Process process, String url, ByteArrayOutputStream err, Thread errReader) {
        String log() {
            return err.toString(StandardCharsets.UTF_8);
        }

        /** Waits for the process to end (at most 60 s) and for the last of its stderr; its exit code. */
        int exit() throws InterruptedException {
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "vl4j serve did not stop: " + log());
            errReader.join(10_000);
            return process.exitValue();
        }
    }

    static Server serve(Map<String, String> env, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("serve", "-m", Fixtures.TINY_13B_MODEL.toAbsolutePath().toString(),
                "--port", "0"));
        command.addAll(List.of(args));
        Process p = Vl4jProcess.builder(command, env).start();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread errReader = Thread.ofPlatform().daemon().start(() -> Vl4jProcess.copy(p.getErrorStream(), err));
        Thread.ofPlatform().daemon().start(() -> Vl4jProcess.copy(p.getInputStream(), new ByteArrayOutputStream()));
        Pattern serving = Pattern.compile("serving .* at (http://\\S+/)");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            Matcher m = serving.matcher(err.toString(StandardCharsets.UTF_8));
            if (m.find()) {
                return new Server(p, m.group(1).replace("0.0.0.0", "127.0.0.1"), err, errReader);
            }
            if (!p.isAlive()) {
                throw new AssertionError("serve exited " + p.exitValue() + ": " + err.toString(StandardCharsets.UTF_8));
            }
            Thread.sleep(20);
        }
        p.destroyForcibly();
        throw new AssertionError("serve printed no URL: " + err.toString(StandardCharsets.UTF_8));
    }

    record Reply(int status, String body, HttpHeadersView headers) {
        JsonNode error() throws IOException {
            return JSON.readTree(body).get("error");
        }
    }

    record HttpHeadersView(java.net.http.HttpHeaders headers) {
        String get(String name) {
            return headers.firstValue(name).orElse(null);
        }
    }

    static Reply send(String method, String url, String key, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).method(method,
                body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body(), new HttpHeadersView(r.headers()));
    }

    static ObjectNode chat(int maxTokens, String... imageUrls) {
        ObjectNode body = JSON.createObjectNode().put("model", "tiny").put("max_tokens", maxTokens);
        ArrayNode content = body.putArray("messages").addObject().put("role", "user").putArray("content");
        for (String url : imageUrls) {
            content.addObject().put("type", "image_url").putObject("image_url").put("url", url);
        }
        content.addObject().put("type", "text").put("text", "Describe this image.");
        return body;
    }

    @Test
    void aServerOnTheNetwork() throws Exception {
        byte[] big = new byte[(3 << 20) / 2];                 // 1.5 MB: over --max-image-mb 1
        HttpServer images = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        images.createContext("/big.png", ex -> {
            ex.sendResponseHeaders(200, big.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(big);
            } catch (IOException e) {
                // refused once the server had read enough
            }
        });
        images.start();
        Server server = serve(Map.of("VL4J_API_KEY", KEY), "--max-image-mb", "1", "--default-max-tokens", "77", "--allow-private-urls",
                "--drain-s", "60");
        String v1 = server.url() + "v1/chat/completions";
        try {
            // the API key: /v1/* needs it, /health does not, and it never shows in the log
            Reply health = send("GET", server.url() + "health", null, null);
            assertEquals(200, health.status(), health.body());
            assertTrue(JSON.readTree(health.body()).get("api_key_required").asBoolean());
            Reply none = send("POST", v1, null, chat(2).toString());
            assertEquals(401, none.status(), none.body());
            assertEquals("invalid_api_key", none.error().get("code").asText());
            assertEquals(401, send("GET", server.url() + "v1/models", "wrong-" + KEY, null).status());
            assertEquals(200, send("GET", server.url() + "v1/models", KEY, null).status());

            // HTTP semantics: 405 with Allow, a favicon, the page's max tokens from --default-max-tokens
            Reply get = send("GET", v1, KEY, null);
            assertEquals(405, get.status(), get.body());
            assertEquals("POST", get.headers().get("Allow"));
            Reply delete = send("DELETE", server.url() + "health", null, null);
            assertEquals(405, delete.status(), delete.body());
            assertEquals("GET", delete.headers().get("Allow"));
            Reply icon = send("GET", server.url() + "favicon.ico", null, null);
            assertEquals(200, icon.status());
            assertTrue(icon.headers().get("Content-Type").startsWith("image/svg+xml"), icon.headers().get("Content-Type"));
            String page = send("GET", server.url(), null, null).body();
            assertTrue(page.contains("<input id=\"max_tokens\" type=\"number\" min=\"1\" step=\"1\" value=\"77\">"), page);
            assertTrue(page.contains("rel=\"icon\""));

            // the documented image limit, in a data URI (longer than Jackson's default 20 M characters) and by URL: 413
            String huge = "data:image/png;base64," + Base64.getEncoder().encodeToString(new byte[15_500_000]);
            Reply overData = send("POST", v1, KEY, chat(2, huge).toString());
            assertEquals(413, overData.status(), overData.body());
            assertTrue(overData.error().get("message").asText().contains("over the limit of 1048576 bytes (--max-image-mb 1)"),
                    overData.body());
            Reply overUrl = send("POST", v1, KEY, chat(2, "http://127.0.0.1:" + images.getAddress().getPort() + "/big.png").toString());
            assertEquals(413, overUrl.status(), overUrl.body());
            assertTrue(overUrl.error().get("message").asText().contains("--max-image-mb 1"), overUrl.body());

            // a truncated JPEG: 400 with the message the CLI prints for it
            byte[] jpeg = Files.readAllBytes(Fixtures.TINY_13B.resolve("images/synth_640x427_q90.jpg"));
            String cut = "data:image/jpeg;base64," + Base64.getEncoder().encodeToString(Arrays.copyOf(jpeg, jpeg.length / 2));
            Reply truncated = send("POST", v1, KEY, chat(2, cut).toString());
            assertEquals(400, truncated.status(), truncated.body());
            assertEquals("messages[0].content[0].image_url.url: the JPEG file is truncated (it ends before the image data does)",
                    truncated.error().get("message").asText());

            // no parser internals in any error
            for (String bad : List.of("{\"messages\": [", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]} trailing",
                    "[".repeat(3000))) {
                Reply r = send("POST", v1, KEY, bad);
                assertEquals(400, r.status(), r.body());
                assertTrue(r.error().get("message").asText().startsWith("the request body is not valid JSON: "), r.body());
                for (String internal : List.of("Source:", "REDACTED", "StreamReadConstraints", "`")) {
                    assertFalse(r.body().contains(internal), r.body());
                }
            }

            // SIGTERM with a request in flight: no new requests, /health says draining, the stream ends whole, exit 0
            ObjectNode streaming = chat(300).put("stream", true);
            HttpResponse<InputStream> stream = HTTP.send(HttpRequest.newBuilder(URI.create(v1)).header("Authorization", "Bearer " + KEY)
                    .POST(HttpRequest.BodyPublishers.ofString(streaming.toString())).build(), HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, stream.statusCode());
            BufferedReader events = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8));
            String line;
            do {
                line = events.readLine();                                    // up to the first token
            } while (line != null && !(line.contains("\"content\":\"") && !line.contains("\"content\":\"\"")));
            server.process().toHandle().destroy();                           // SIGTERM (Process.destroy would close its pipes)
            JsonNode state = waitForDraining(server.url());
            assertEquals("draining", state.get("status").asText());
            Reply late = send("POST", v1, KEY, chat(2).toString());
            assertEquals(503, late.status(), late.body());
            String finish = null;
            boolean done = false;
            int tokensAfterTheSignal = 0;
            while ((line = events.readLine()) != null) {
                if (line.equals("data: [DONE]")) {
                    done = true;
                } else if (line.startsWith("data: ")) {
                    JsonNode chunk = JSON.readTree(line.substring(6));
                    assertFalse(chunk.has("error"), line);
                    JsonNode choice = chunk.path("choices").path(0);
                    tokensAfterTheSignal += choice.path("delta").path("content").asText("").isEmpty() ? 0 : 1;
                    if (choice.path("finish_reason").isTextual()) {
                        finish = choice.path("finish_reason").asText();
                    }
                }
            }
            assertTrue(done, "the stream in flight ended without [DONE]");
            assertEquals("length", finish);
            assertTrue(tokensAfterTheSignal > 0, "the request was no longer in flight when the signal came");
            assertEquals(0, server.exit(), server.log());
            assertTrue(server.log().contains("vl4j: SIGTERM: taking no new requests; 1 in flight"), server.log());
            assertTrue(server.log().contains("vl4j: drained; stopped"), server.log());
            assertFalse(server.log().contains(KEY), server.log());
        } finally {
            server.process().destroyForcibly();
            images.stop(0);
        }
    }

    @Test
    void warnsWhenListeningBeyondLoopbackWithoutAKey() throws Exception {
        Server server = serve(Map.of(), "--host", "0.0.0.0");
        try {
            assertTrue(server.log().contains("vl4j: warning: listening on 0.0.0.0 without an API key"), server.log());
            assertEquals(200, send("GET", server.url() + "v1/models", null, null).status());
            server.process().toHandle().destroy();                           // SIGTERM
            assertEquals(0, server.exit(), server.log());
        } finally {
            server.process().destroyForcibly();
        }
    }

    static JsonNode waitForDraining(String url) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            Reply h = send("GET", url + "health", null, null);
            if (h.status() == 503) {
                return JSON.readTree(h.body());
            }
            Thread.sleep(10);
        }
        throw new AssertionError("/health never reported draining");
    }
}
