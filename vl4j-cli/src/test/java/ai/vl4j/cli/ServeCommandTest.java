package ai.vl4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@code vl4j serve} end to end: it prints its URL, answers as {@code vl4j run --json} does, logs, and stops cleanly. */
class ServeCommandTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void serveAnswersAsRunDoes() throws Exception {
        Path image = Fixtures.TINY_13B.resolve("images/synth_640x427_q90.jpg");
        String prompt = "What is in this picture?";
        CliTest.Result run = CliTest.vl4j("run", "-m", Fixtures.TINY_13B_MODEL.toString(), "-i", image.toString(), "-p", prompt,
                "--max-new-tokens", "20", "--json");
        assertEquals(0, run.code(), run.err());
        JsonNode expected = JSON.readTree(run.out());

        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
        CompletableFuture<Integer> serve = CompletableFuture.supplyAsync(() -> Main.execute(new String[] {"serve", "--model",
                Fixtures.TINY_13B_MODEL.toString(), "--port", "0", "--max-batch", "2", "--allow-local-files"},
                new PrintStream(new ByteArrayOutputStream()), errStream));
        try {
            String url = awaitUrl(err, serve);
            ObjectNode body = JSON.createObjectNode().put("model", "m").put("max_tokens", 20);
            ArrayNode content = body.putArray("messages").addObject().put("role", "user").putArray("content");
            content.addObject().put("type", "image_url").putObject("image_url").put("url", image.toString());
            content.addObject().put("type", "text").put("text", prompt);
            HttpResponse<String> reply = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url + "v1/chat/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, reply.statusCode(), reply.body());
            JsonNode answer = JSON.readTree(reply.body());
            assertEquals(expected.get("text").asText(), answer.get("choices").get(0).get("message").get("content").asText());
            assertEquals(expected.get("prompt_tokens").asInt(), answer.get("usage").get("prompt_tokens").asInt());
            assertEquals(expected.get("completion_tokens").asInt(), answer.get("usage").get("completion_tokens").asInt());
        } finally {
            if (ServeCommand.running != null) {
                ServeCommand.running.close();
            }
        }
        assertEquals(0, serve.get(30, TimeUnit.SECONDS));
        String log = err.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("POST /v1/chat/completions 200 prompt=" + expected.get("prompt_tokens").asInt() + " completion=20"), log);
    }

    @Test
    void badFlagsAreUsageErrors() {
        CliTest.Result r = CliTest.vl4j("serve", "--model", Fixtures.TINY_13B_MODEL.toString(), "--max-batch", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--max-batch must be at least 1"), r.err());
    }

    static String awaitUrl(ByteArrayOutputStream err, CompletableFuture<Integer> serve) throws InterruptedException {
        Pattern serving = Pattern.compile("serving .* at (http://\\S+/)");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            Matcher m = serving.matcher(err.toString(StandardCharsets.UTF_8));
            if (m.find()) {
                return m.group(1);
            }
            if (serve.isDone()) {
                throw new AssertionError("serve exited: " + err.toString(StandardCharsets.UTF_8));
            }
            Thread.sleep(20);
        }
        throw new AssertionError("serve printed no URL: " + err.toString(StandardCharsets.UTF_8));
    }
}
