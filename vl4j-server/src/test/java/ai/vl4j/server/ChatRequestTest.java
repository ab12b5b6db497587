package ai.vl4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChatRequestTest {
    static ChatRequest parse(String json) {
        return ChatRequest.parse(json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void defaultsFollowVl4jRun() {
        ChatRequest r = parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(0f, r.temperature());
        assertEquals(1f, r.topP());
        assertEquals(50, r.topK());
        assertNull(r.maxTokens());
        assertNull(r.systemPrompt());
        assertFalse(r.stream());
        assertEquals(List.of(), r.stop());
    }

    @Test
    void maxCompletionTokensWinsOverMaxTokens() {
        ChatRequest r = parse("{\"max_tokens\":5,\"max_completion_tokens\":7,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(7, r.maxTokens());
    }

    @Test
    void systemMessagesBecomeTheSystemPromptAndTurnsOfOneSpeakerMerge() {
        ChatRequest r = parse("""
                {"messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":[{"type":"text","text":"No lists."}]},
                 {"role":"user","content":"a"},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:x"}},
                 {"type":"text","text":"b"}]},{"role":"assistant","content":"c"},{"role":"user","content":"d"}],
                 "stop":"\\n\\n","stream":true,"stream_options":{"include_usage":true}}""");
        assertEquals("Be brief.\n\nNo lists.", r.systemPrompt());
        assertEquals(3, r.turns().size());
        assertTrue(r.turns().get(0).user());
        assertEquals(List.of(new ChatRequest.Text("a"), new ChatRequest.Text("\n\n"),
                new ChatRequest.Image("data:x", "messages[3].content[0].image_url.url"), new ChatRequest.Text("b")),
                r.turns().get(0).parts());
        assertEquals(1, r.imageCount());
        assertEquals(List.of("\n\n"), r.stop());
        assertTrue(r.stream() && r.includeUsage());
    }

    @Test
    void imageUrlAsABareStringIsAccepted() {
        ChatRequest r = parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":\"data:y\"}]}]}");
        assertEquals(new ChatRequest.Image("data:y", "messages[0].content[0].image_url.url"), r.turns().get(0).parts().get(0));
    }

    @Test
    void errorsNameTheirField() {
        ApiException e = assertThrows(ApiException.class, () -> parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}"));
        assertEquals("stop", e.param);
        assertEquals(400, e.status);
        e = assertThrows(ApiException.class, () -> parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{}]}"));
        assertEquals("tools", e.param);
        e = assertThrows(ApiException.class, () -> parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"logprobs\":true}"));
        assertEquals("logprobs", e.param);
    }
}
