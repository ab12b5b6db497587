package ai.vl4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionContentPart;
import com.openai.models.chat.completions.ChatCompletionContentPartImage;
import com.openai.models.chat.completions.ChatCompletionContentPartText;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.models.Model;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The official OpenAI Java SDK, unmodified, against the server: models, a completion, a stream, an error. */
class OpenAiClientTest {
    static TestServer server;
    static OpenAIClient client;

    @BeforeAll
    static void start() {
        server = new TestServer();
        client = OpenAIOkHttpClient.builder().baseUrl(server.server.url() + "v1").apiKey("not-needed").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    /** The golden dog_a__en request as the SDK builds it: an image part, then a text part. */
    static ChatCompletionCreateParams.Builder goldenParams() {
        ServerGoldenTest.Case golden = ServerGoldenTest.goldenCase("dog_a__en");
        List<ChatCompletionContentPart> parts = List.of(
                ChatCompletionContentPart.ofImageUrl(ChatCompletionContentPartImage.builder()
                        .imageUrl(ChatCompletionContentPartImage.ImageUrl.builder()
                                .url(TestServer.dataUri(TestServer.IMAGES.resolve("dog_a.png"))).build()).build()),
                ChatCompletionContentPart.ofText(ChatCompletionContentPartText.builder().text("Describe this image.").build()));
        return ChatCompletionCreateParams.builder().model("tiny-dsvl-1.3b").addUserMessageOfArrayOfContentParts(parts)
                .maxCompletionTokens(golden.newTokens()).temperature(0.0);
    }

    @Test
    void listsTheModel() {
        List<Model> models = client.models().list().data();
        assertEquals(1, models.size());
        assertEquals("tiny-dsvl-1.3b", models.getFirst().id());
    }

    @Test
    void completion() {
        ServerGoldenTest.Case golden = ServerGoldenTest.goldenCase("dog_a__en");
        ChatCompletion c = client.chat().completions().create(goldenParams().build());
        assertEquals(golden.expectedText(), c.choices().getFirst().message().content().orElseThrow());
        assertEquals(ChatCompletion.Choice.FinishReason.LENGTH, c.choices().getFirst().finishReason());
        assertEquals(golden.promptTokens(), c.usage().orElseThrow().promptTokens());
        assertEquals(golden.newTokens(), c.usage().orElseThrow().completionTokens());
    }

    @Test
    void streaming() {
        ServerGoldenTest.Case golden = ServerGoldenTest.goldenCase("dog_a__en");
        StringBuilder text = new StringBuilder();
        AtomicLong completionTokens = new AtomicLong(-1);
        int chunks = 0;
        ChatCompletionCreateParams params = goldenParams()
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
            for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) stream.stream()::iterator) {
                chunks++;
                chunk.choices().forEach(choice -> choice.delta().content().ifPresent(text::append));
                chunk.usage().ifPresent(u -> completionTokens.set(u.completionTokens()));
            }
        }
        assertEquals(golden.expectedText(), text.toString());
        assertEquals(golden.newTokens(), completionTokens.get());
        assertTrue(chunks > 5, chunks + " chunks");
    }

    @Test
    void badRequestBecomesTheSdksException() {
        BadRequestException e = assertThrows(BadRequestException.class, () -> client.chat().completions().create(
                ChatCompletionCreateParams.builder().model("x").addUserMessage("hi").n(3).build()));
        assertEquals(400, e.statusCode());
        assertTrue(e.getMessage().contains("n must be 1"), e.getMessage());
    }
}
