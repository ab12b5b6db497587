package ai.vl4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Admission limits and disconnects, on a server with one batch slot and one queue place. */
class ServerSchedulingTest {
    /** Long enough (context 16384, tokens ≈ 1 ms each) that nothing finishes on its own during a test. */
    static final int LONG = 15_000;

    static ObjectNode longStream() {
        return TestServer.request("Tell me everything.", LONG).put("stream", true);
    }

    @Test
    void fullQueueAnswers429WithRetryAfterAndDisconnectsFreeTheirSlots() throws Exception {
        try (TestServer server = new TestServer(TestServer.config().withBatching(1, 1))) {
            TestServer.SseStream active = server.stream(longStream());
            assertEquals(200, active.status);
            assertNotNull(active.next());                               // decoding: it holds the one batch slot
            CompletableFuture<TestServer.SseStream> queued = CompletableFuture.supplyAsync(() -> server.stream(longStream()));
            waitFor(() -> gauge(server, "vl4j_queue_depth") == 1, "the second request to wait in the queue");

            TestServer.Reply refused = server.chat(TestServer.request("hi", 2));
            assertEquals(429, refused.status(), refused.body());
            assertNotNull(refused.retryAfter(), "Retry-After header");
            assertTrue(Integer.parseInt(refused.retryAfter()) >= 1);
            JsonNode error = refused.json().get("error");
            assertEquals("rate_limit_error", error.get("type").asText());
            assertTrue(error.get("message").asText().contains("capacity"));

            // the first client hangs up mid-stream: its slot goes to the queued request at the next step
            active.close();
            try (TestServer.SseStream second = queued.get(30, TimeUnit.SECONDS)) {
                assertEquals(200, second.status);
                assertNotNull(second.next());
                waitFor(() -> gauge(server, "vl4j_queue_depth") == 0 && gauge(server, "vl4j_batch_size") == 1,
                        "the queued request to take the freed slot");
                assertEquals(1, gauge(server, "vl4j_requests_cancelled_total"));
            }
            // and that one's disconnect frees the server entirely: a new request is served at once
            waitFor(() -> gauge(server, "vl4j_batch_size") == 0, "the second stream's slot to be freed");
            TestServer.Reply ok = server.chat(TestServer.request("hi", 2));
            assertEquals(200, ok.status(), ok.body());
            assertEquals(2, gauge(server, "vl4j_requests_cancelled_total"));
            long generated = gauge(server, "vl4j_decode_step_rows_total");
            assertTrue(generated < LONG, "the dropped streams stopped early: " + generated + " rows decoded");
            String log = server.log();
            assertTrue(log.contains("POST /v1/chat/completions 499"), log);
            assertTrue(log.contains("POST /v1/chat/completions 429"), log);
            assertTrue(server.get("/metrics").body().contains("vl4j_requests_total{path=\"/v1/chat/completions\",status=\"429\"} 1"));
        }
    }

    @Test
    void modelsHealthMetricsAndThePage() {
        try (TestServer server = new TestServer()) {
            JsonNode models = server.get("/v1/models").json();
            assertEquals("list", models.get("object").asText());
            assertEquals("tiny-dsvl-1.3b", models.get("data").get(0).get("id").asText());
            assertEquals("model", models.get("data").get(0).get("object").asText());
            JsonNode health = server.get("/health").json();
            assertEquals("ok", health.get("status").asText());

            TestServer.Reply ok = server.chat(TestServer.request("hi", 5));
            assertEquals(200, ok.status());
            String metrics = server.get("/metrics").body();
            for (String expected : new String[] {
                    "# TYPE vl4j_requests_total counter",
                    "vl4j_requests_total{path=\"/v1/chat/completions\",status=\"200\"} 1",
                    "vl4j_completion_tokens_total 5",
                    "vl4j_prompt_tokens_total " + ok.json().get("usage").get("prompt_tokens").asInt(),
                    "# TYPE vl4j_request_duration_seconds histogram",
                    "vl4j_request_duration_seconds_count 1",
                    "vl4j_request_duration_seconds_bucket{le=\"+Inf\"} 1",
                    "vl4j_time_to_first_token_seconds_count 1",
                    "vl4j_queue_depth 0",
                    "vl4j_batch_capacity 8"}) {
                assertTrue(metrics.contains(expected + "\n"), "metrics lack '" + expected + "':\n" + metrics);
            }
            TestServer.Reply page = server.get("/");
            assertEquals(200, page.status());
            assertTrue(page.contentType().startsWith("text/html"));
            assertTrue(page.body().contains("/v1/chat/completions"));
            assertTrue(server.log().lines().anyMatch(l -> l.matches("POST /v1/chat/completions 200 prompt=\\d+ completion=5 "
                    + "finish=length \\d+\\.\\d{3}s")), server.log());
        }
    }

    static long gauge(TestServer server, String name) {
        for (String line : server.get("/metrics").body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return Long.parseLong(line.substring(name.length() + 1).trim());
            }
        }
        throw new AssertionError("no metric " + name);
    }

    static void waitFor(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }
}
