package ai.vl4j.server;

import static ai.vl4j.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.generate.GenerationResult;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.generate.TokenListener;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.text.Message;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The server answers as {@code vl4j run} does: the fixture's golden greedy tokens, streamed or not, and the same
 * tokens for requests decoded together in one batch as for each decoded alone.
 */
class ServerGoldenTest {
    static TestServer server;

    @BeforeAll
    static void start() {
        server = new TestServer(TestServer.config().withBatching(4, 8));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** A golden case as an OpenAI request: image parts in order, then the user text without its tags. */
    record Case(ObjectNode request, String expectedText, int promptTokens, int newTokens) {
    }

    static Case goldenCase(String name) {
        Path dir = Fixtures.TINY_13B.resolve("expected").resolve(name);
        JsonNode prompt = Fixtures.json(dir.resolve("prompt.json"));
        JsonNode greedy = Fixtures.json(dir.resolve("greedy.json"));
        List<String> urls = new ArrayList<>();
        for (JsonNode stem : prompt.has("images") ? prompt.get("images") : List.of(prompt.get("image"))) {
            String file = Fixtures.json(Fixtures.TINY_13B.resolve("expected").resolve(stem.asText()).resolve("image_meta.json"))
                    .get("file").asText();
            urls.add(TestServer.dataUri(TestServer.IMAGES.resolve(file)));
        }
        String text = prompt.get("user_content").asText().replace("<image_placeholder>", "");
        int[] ids = ints(greedy.get("new_tokens"));
        return new Case(TestServer.request(text, ids.length, urls.toArray(String[]::new)),
                TestServer.model().tokenizer().decode(ids, true), prompt.get("input_ids").size(), ids.length);
    }

    @ParameterizedTest
    @ValueSource(strings = {"dog_a__en", "dog_a__zh", "synth_640x427_q90__en", "tiny_37x91_rgba__zh", "dog_a+synth_640x427_q90__cmp"})
    void nonStreamingGivesTheGoldenGreedyText(String name) {
        Case c = goldenCase(name);
        TestServer.Reply reply = server.chat(c.request());
        assertEquals(200, reply.status(), reply.body());
        JsonNode body = reply.json();
        assertEquals("chat.completion", body.get("object").asText());
        assertEquals("tiny-dsvl-1.3b", body.get("model").asText());
        assertTrue(body.get("id").asText().startsWith("chatcmpl-"));
        JsonNode choice = body.get("choices").get(0);
        assertEquals("assistant", choice.get("message").get("role").asText());
        assertEquals(c.expectedText(), choice.get("message").get("content").asText(), name);
        assertEquals("length", choice.get("finish_reason").asText());
        assertEquals(c.promptTokens(), body.get("usage").get("prompt_tokens").asInt());
        assertEquals(c.newTokens(), body.get("usage").get("completion_tokens").asInt());
        assertEquals(c.promptTokens() + c.newTokens(), body.get("usage").get("total_tokens").asInt());
    }

    @Test
    void streamingGivesTheSameTextInChunksEndingWithDone() throws Exception {
        Case c = goldenCase("dog_a__en");
        ObjectNode request = c.request().put("stream", true);
        request.putObject("stream_options").put("include_usage", true);
        List<String> payloads;
        try (TestServer.SseStream s = server.stream(request)) {
            assertEquals(200, s.status);
            assertTrue(s.contentType.startsWith("text/event-stream"), s.contentType);
            payloads = s.rest();
        }
        assertEquals("[DONE]", payloads.getLast());
        assertEquals(c.expectedText(), TestServer.streamedText(payloads));
        JsonNode first = TestServer.JSON.readTree(payloads.getFirst());
        assertEquals("chat.completion.chunk", first.get("object").asText());
        assertEquals("assistant", first.get("choices").get(0).get("delta").get("role").asText());
        assertTrue(first.has("usage") && first.get("usage").isNull(), "usage: null on every chunk but the last");
        assertTrue(payloads.size() > 5, "the text comes in several chunks: " + payloads.size());
        JsonNode finish = TestServer.JSON.readTree(payloads.get(payloads.size() - 3));
        assertEquals("length", finish.get("choices").get(0).get("finish_reason").asText());
        JsonNode usage = TestServer.JSON.readTree(payloads.get(payloads.size() - 2));
        assertEquals(0, usage.get("choices").size());
        assertEquals(c.promptTokens(), usage.get("usage").get("prompt_tokens").asInt());
        assertEquals(c.newTokens(), usage.get("usage").get("completion_tokens").asInt());
        String id = first.get("id").asText();
        for (String p : payloads.subList(0, payloads.size() - 1)) {
            assertEquals(id, TestServer.JSON.readTree(p).get("id").asText(), "one id for all chunks");
        }
    }

    @Test
    void streamingWithoutUsageHasNoUsageChunk() throws Exception {
        Case c = goldenCase("tiny_37x91_rgba__zh");
        List<String> payloads;
        try (TestServer.SseStream s = server.stream(c.request().put("stream", true))) {
            payloads = s.rest();
        }
        assertEquals(c.expectedText(), TestServer.streamedText(payloads));
        for (String p : payloads.subList(0, payloads.size() - 1)) {
            assertTrue(!TestServer.JSON.readTree(p).has("usage"), p);
        }
    }

    @Test
    void stopStringEndsTheAnswerBeforeIt() throws Exception {
        Case c = goldenCase("dog_a__en");
        String full = c.expectedText();
        // a stop string from the middle of the golden answer: the answer is what comes before its first occurrence
        String stop = full.substring(full.length() / 2, full.length() / 2 + 3);
        String expected = full.substring(0, full.indexOf(stop));
        ObjectNode request = c.request();
        request.putArray("stop").add(stop).add("never-generated-\u2603");
        JsonNode body = server.chat(request).json();
        assertEquals(expected, body.get("choices").get(0).get("message").get("content").asText());
        assertEquals("stop", body.get("choices").get(0).get("finish_reason").asText());
        assertTrue(body.get("usage").get("completion_tokens").asInt() < c.newTokens());
        try (TestServer.SseStream s = server.stream(request.put("stream", true))) {
            List<String> payloads = s.rest();
            assertEquals(expected, TestServer.streamedText(payloads));
            JsonNode last = TestServer.JSON.readTree(payloads.get(payloads.size() - 2));
            assertEquals("stop", last.get("choices").get(0).get("finish_reason").asText());
        }
    }

    /**
     * Batch invariance: each of four requests is sent alone, then the four at once. In flight together they decode in
     * shared batched steps (the metrics show steps with several rows) and the prompts that arrive while others decode
     * are prefilled in pieces between those steps; each still gets exactly the token ids it got alone, which are the
     * ids DeepSeekVl.generate gives it.
     */
    @Test
    void concurrentRequestsEachGetTheTokenIdsTheyGetAlone() throws Exception {
        int tokens = 160;
        String dog = TestServer.dataUri(TestServer.IMAGES.resolve("dog_a.png"));
        String synth = TestServer.dataUri(TestServer.IMAGES.resolve("synth_640x427_q90.jpg"));
        List<ObjectNode> requests = List.of(
                TestServer.request("Describe this image.", tokens, dog),
                TestServer.request("这张图片里有什么？", tokens, synth),
                TestServer.request("Write a long story about a lighthouse keeper.", tokens),
                TestServer.request("Compare these two images.", tokens, synth, dog));
        List<int[]> alone = new ArrayList<>();
        for (ObjectNode r : requests) {
            TestServer.Reply reply = server.chat(r.deepCopy().put("return_token_ids", true));
            assertEquals(200, reply.status(), reply.body());
            JsonNode choice = reply.json().get("choices").get(0);
            int[] ids = ids(choice.get("token_ids"));
            assertEquals(reply.json().get("usage").get("completion_tokens").asInt(), ids.length, "token_ids has every generated id");
            GenerationResult library = soloResult(r, tokens);
            assertArrayEquals(library.tokenIds(), ids, "the server alone vs DeepSeekVl.generate");
            assertEquals(library.text(), choice.get("message").get("content").asText());
            alone.add(ids);
        }
        long rowsBefore = metric("vl4j_decode_step_rows_total");
        long stepsBefore = metric("vl4j_decode_steps_total");
        long piecesBefore = metric("vl4j_prefill_pieces_total");
        ExecutorService pool = Executors.newFixedThreadPool(requests.size());
        try {
            List<Future<int[]>> together = new ArrayList<>();
            for (ObjectNode r : requests) {
                together.add(pool.submit((Callable<int[]>) () -> {
                    try (TestServer.SseStream s = server.stream(r.deepCopy().put("stream", true).put("return_token_ids", true))) {
                        List<String> payloads = s.rest();
                        JsonNode last = TestServer.JSON.readTree(payloads.get(payloads.size() - 2));   // before [DONE]
                        return ids(last.get("choices").get(0).get("token_ids"));
                    }
                }));
            }
            for (int i = 0; i < requests.size(); i++) {
                assertArrayEquals(alone.get(i), together.get(i).get(), "request " + i + ": token ids among concurrent requests vs alone");
            }
        } finally {
            pool.shutdownNow();
        }
        long rows = metric("vl4j_decode_step_rows_total") - rowsBefore;
        long steps = metric("vl4j_decode_steps_total") - stepsBefore;
        assertTrue(rows > steps + tokens, "steps were shared: " + rows + " rows in " + steps + " steps");
        long pieces = metric("vl4j_prefill_pieces_total") - piecesBefore;
        assertTrue(pieces > requests.size(), "prompts were prefilled in pieces between decode steps: " + pieces + " pieces");
    }

    private static int[] ids(JsonNode array) {
        assertTrue(array != null && array.isArray(), "token_ids is an array: " + array);
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    /** OpenAI clients resend the conversation: the follow-up runs only its new tokens, and answers as a fresh run. */
    @Test
    void followUpTurnReusesTheFirstTurnsCache() {
        Case c = goldenCase("dog_a__en");
        TestServer.Reply first = server.chat(c.request());
        assertEquals(200, first.status(), first.body());
        String answer = first.json().get("choices").get(0).get("message").get("content").asText();
        ObjectNode followUp = c.request().deepCopy();
        ArrayNode messages = (ArrayNode) followUp.get("messages");
        messages.addObject().put("role", "assistant").put("content", answer);
        messages.addObject().put("role", "user").put("content", "What is the dog doing?");
        followUp.put("max_tokens", 12);
        long cachedBefore = metric("vl4j_prompt_tokens_cached_total");

        TestServer.Reply reply = server.chat(followUp);
        assertEquals(200, reply.status(), reply.body());
        int cached = reply.json().get("usage").get("prompt_tokens_details").get("cached_tokens").asInt();
        assertTrue(cached >= c.promptTokens(), "the first turn's prompt came from its cache: " + cached);
        assertEquals(cached, metric("vl4j_prompt_tokens_cached_total") - cachedBefore);
        RgbImage dog = ImageLoader.load(TestServer.IMAGES.resolve("dog_a.png"));
        GenerationResult fresh = TestServer.model().generate(List.of(Message.user("<image_placeholder>Describe this image.", dog),
                Message.assistant(answer), Message.user("What is the dog doing?")), SamplingOptions.GREEDY.withMaxNewTokens(12),
                TokenListener.NONE);
        assertEquals(fresh.text(), reply.json().get("choices").get(0).get("message").get("content").asText());
    }

    /** What the library gives the same conversation, decoded alone. */
    static GenerationResult soloResult(ObjectNode request, int tokens) {
        List<RgbImage> images = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        for (JsonNode part : request.get("messages").get(0).get("content")) {
            if (part.get("type").asText().equals("image_url")) {
                images.add(ImageLoader.load(part.get("image_url").get("url").asText()));
                text.append("<image_placeholder>");
            } else {
                text.append(part.get("text").asText());
            }
        }
        return TestServer.model().generate(List.of(Message.user(text.toString(), images.toArray(RgbImage[]::new))),
                SamplingOptions.GREEDY.withMaxNewTokens(tokens), TokenListener.NONE);
    }

    static long metric(String name) {
        for (String line : server.get("/metrics").body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return Long.parseLong(line.substring(name.length() + 1).trim());
            }
        }
        throw new AssertionError("no metric " + name);
    }
}
