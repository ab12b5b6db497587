package ai.vl4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The API key and graceful shutdown of {@link OpenAiServer}, over real HTTP (the CLI's SIGTERM is ServeProcessTest's). */
class ServerLifecycleTest {
    static HttpResponse<String> send(TestServer server, String method, String path, String authorization) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(server.uri(path)).method(method, method.equals("POST")
                ? HttpRequest.BodyPublishers.ofString(TestServer.request("hi", 2).toString()) : HttpRequest.BodyPublishers.noBody());
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return server.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void anApiKeyGuardsEveryV1RouteAndNothingElse() throws Exception {
        try (TestServer server = new TestServer(TestServer.config().withApiKey("s3cret"))) {
            for (String[] route : List.of(new String[] {"POST", "/v1/chat/completions"}, new String[] {"GET", "/v1/models"},
                    new String[] {"GET", "/v1/no-such-route"})) {
                for (String wrong : new String[] {null, "Bearer", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret"}) {
                    HttpResponse<String> r = send(server, route[0], route[1], wrong);
                    assertEquals(401, r.statusCode(), route[1] + " with " + wrong + ": " + r.body());
                    JsonNode error = TestServer.JSON.readTree(r.body()).get("error");
                    assertEquals("invalid_api_key", error.get("code").asText());
                    assertEquals("invalid_request_error", error.get("type").asText());
                    assertTrue(r.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"));
                    assertFalse(r.body().contains("s3cret"), r.body());
                }
            }
            assertEquals(200, send(server, "POST", "/v1/chat/completions", "Bearer s3cret").statusCode());
            assertEquals(200, send(server, "GET", "/v1/models", "bearer  s3cret ").statusCode());
            for (String open : List.of("/health", "/", "/metrics", "/favicon.ico")) {
                assertEquals(200, send(server, "GET", open, null).statusCode(), open);
            }
            assertFalse(server.log().contains("s3cret"), server.log());
            assertFalse(server.server.toString().contains("s3cret") || TestServer.config().withApiKey("s3cret").toString().contains("s3cret"));
        }
    }

    @Test
    void drainFinishesWhatIsInFlightAndRefusesTheRest() throws Exception {
        TestServer server = new TestServer();
        try (TestServer.SseStream stream = server.stream(TestServer.request("Tell me a story.", 200).put("stream", true))) {
            assertEquals(200, stream.status);
            assertNotNull(stream.next());
            CompletableFuture<Integer> drained = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.server.drain(Duration.ofSeconds(60));
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            ServerSchedulingTest.waitFor(() -> server.get("/health").status() == 503, "/health to say draining");
            assertEquals("draining", server.get("/health").json().get("status").asText());
            TestServer.Reply late = server.chat(TestServer.request("hi", 2));
            assertEquals(503, late.status(), late.body());
            assertEquals("unavailable", late.json().get("error").get("code").asText());
            List<String> rest = stream.rest();
            assertEquals("[DONE]", rest.getLast());
            assertTrue(rest.stream().anyMatch(p -> p.contains("\"finish_reason\":\"length\"")), rest.toString());
            assertEquals(0, drained.get(60, TimeUnit.SECONDS));
        } finally {
            server.close();
        }
    }

    @Test
    void drainTimeRunsOutForALongRequest() throws Exception {
        TestServer server = new TestServer();
        try (TestServer.SseStream stream = server.stream(ServerSchedulingTest.longStream())) {
            assertNotNull(stream.next());
            assertEquals(1, server.server.drain(Duration.ofMillis(300)));
            List<String> rest = stream.rest();
            assertTrue(rest.stream().anyMatch(p -> p.contains("shutting down")), rest.toString());
        } finally {
            server.close();
        }
    }
}
