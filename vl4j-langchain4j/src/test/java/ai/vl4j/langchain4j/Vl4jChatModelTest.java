package ai.vl4j.langchain4j;

import static ai.vl4j.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.generate.GenerationResult;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.generate.TokenListener;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.server.LocalEngine;
import ai.vl4j.text.Message;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.databind.JsonNode;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.TokenStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** vl4j through LangChain4j's own API on the tiny 1.3B-style fixture model: golden greedy answers, streaming, AI services. */
class Vl4jChatModelTest {
    static final Path CASE = Fixtures.TINY_13B.resolve("expected/dog_a__en");
    static DeepSeekVl vl;
    static LocalEngine engine;
    static ChatModel chat;
    static StreamingChatModel streaming;

    @BeforeAll
    static void load() {
        vl = DeepSeekVl.load(Fixtures.TINY_13B_MODEL);
        engine = new LocalEngine(vl, 4, 8, 64L << 20);
        chat = new Vl4jChatModel(engine);
        streaming = new Vl4jStreamingChatModel(engine);
    }

    @AfterAll
    static void close() {
        engine.close();
        vl.close();
    }

    static String dogBase64() throws IOException {
        return Base64.getEncoder().encodeToString(Files.readAllBytes(Fixtures.TINY_13B.resolve("images/dog_a.png")));
    }

    /** The fixture's case: an image then "Describe this image.", the golden greedy tokens as text. */
    @Test
    void imageQuestionGivesTheGoldenGreedyAnswer() throws IOException {
        JsonNode greedy = Fixtures.json(CASE.resolve("greedy.json"));
        int[] golden = ints(greedy.get("new_tokens"));
        ChatResponse r = chat.chat(ChatRequest.builder()
                .messages(UserMessage.from(ImageContent.from(dogBase64(), "image/png"), TextContent.from("Describe this image.")))
                .maxOutputTokens(golden.length)
                .build());
        assertEquals(vl.tokenizer().decode(golden, true), r.aiMessage().text());
        assertEquals(golden.length, r.tokenUsage().outputTokenCount());
        assertEquals(Fixtures.json(CASE.resolve("prompt.json")).get("input_ids").size(), r.tokenUsage().inputTokenCount());
        assertEquals(FinishReason.LENGTH, r.finishReason());
    }

    @Test
    void streamingGivesThePiecesOfTheSameAnswer() throws Exception {
        ChatRequest request = ChatRequest.builder()
                .messages(SystemMessage.from("You are terse."), UserMessage.from(ImageContent.from(dogBase64(), "image/png"),
                        TextContent.from("What is in the picture?")))
                .maxOutputTokens(20)
                .build();
        ChatResponse whole = chat.chat(request);
        List<String> pieces = new ArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(request, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                pieces.add(partial);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse streamed = done.get(120, TimeUnit.SECONDS);
        assertEquals(whole.aiMessage().text(), streamed.aiMessage().text());
        assertEquals(whole.aiMessage().text(), String.join("", pieces));
        assertTrue(pieces.size() > 1, pieces.toString());
        assertEquals(whole.tokenUsage(), streamed.tokenUsage());

        // the same through the library directly, with the system prompt LangChain4j gave
        GenerationResult direct = vl.generate(vl.prompt(List.of(Message.user("What is in the picture?",
                ImageLoader.load(Fixtures.TINY_13B.resolve("images/dog_a.png")))), "You are terse."),
                SamplingOptions.GREEDY.withMaxNewTokens(20), TokenListener.NONE);
        assertEquals(direct.text(), whole.aiMessage().text());
    }

    interface Assistant {
        String chat(String question);

        String look(@dev.langchain4j.service.UserMessage List<Content> contents);
    }

    interface StreamingAssistant {
        TokenStream chat(String question);
    }

    /** LangChain4j's AI services on vl4j: a text question, an image message, and a token stream. */
    @Test
    void aiServicesRunOnVl4j() throws Exception {
        Assistant assistant = AiServices.create(Assistant.class, new Vl4jChatModel(engine,
                dev.langchain4j.model.chat.request.ChatRequestParameters.builder().maxOutputTokens(12).build()));
        String answer = assistant.chat("Write a haiku about the sea.");
        GenerationResult direct = vl.generate(List.of(Message.user("Write a haiku about the sea.")),
                SamplingOptions.GREEDY.withMaxNewTokens(12), TokenListener.NONE);
        assertEquals(direct.text(), answer);

        String look = assistant.look(List.of(TextContent.from("Describe this image."), ImageContent.from(dogBase64(), "image/png")));
        GenerationResult lookDirect = vl.generate(List.of(Message.user("Describe this image.<image_placeholder>",
                ImageLoader.load(Fixtures.TINY_13B.resolve("images/dog_a.png")))), SamplingOptions.GREEDY.withMaxNewTokens(12), TokenListener.NONE);
        assertEquals(lookDirect.text(), look);

        StreamingAssistant streamingAssistant = AiServices.create(StreamingAssistant.class, new Vl4jStreamingChatModel(engine,
                dev.langchain4j.model.chat.request.ChatRequestParameters.builder().maxOutputTokens(12).build()));
        StringBuilder text = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streamingAssistant.chat("Write a haiku about the sea.")
                .onPartialResponse(text::append)
                .onCompleteResponse(done::complete)
                .onError(done::completeExceptionally)
                .start();
        assertEquals(answer, done.get(120, TimeUnit.SECONDS).aiMessage().text());
        assertEquals(answer, text.toString());
    }

    @Test
    void concurrentCallsAnswerAsAlone() throws Exception {
        List<String> questions = List.of("Hello!", "Name three colours.", "What is two plus two?", "Tell me a story.");
        List<CompletableFuture<String>> answers = new ArrayList<>();
        for (String q : questions) {
            answers.add(CompletableFuture.supplyAsync(() -> chat.chat(ChatRequest.builder().messages(UserMessage.from(q)).maxOutputTokens(10)
                    .build()).aiMessage().text()));
        }
        for (int i = 0; i < questions.size(); i++) {
            GenerationResult alone = vl.generate(List.of(Message.user(questions.get(i))), SamplingOptions.GREEDY.withMaxNewTokens(10),
                    TokenListener.NONE);
            assertEquals(alone.text(), answers.get(i).get(120, TimeUnit.SECONDS), questions.get(i));
        }
    }

    @Test
    void stopSequencesEndTheAnswerBeforeThem() {
        ChatResponse full = chat.chat(ChatRequest.builder().messages(UserMessage.from("Tell me a story.")).maxOutputTokens(16).build());
        String text = full.aiMessage().text();
        String stop = text.substring(text.length() / 2, text.length() / 2 + 2);
        ChatResponse cut = chat.chat(ChatRequest.builder().messages(UserMessage.from("Tell me a story.")).maxOutputTokens(16)
                .stopSequences(List.of(stop)).build());
        assertEquals(text.substring(0, text.indexOf(stop)), cut.aiMessage().text());
        assertEquals(FinishReason.STOP, cut.finishReason());
    }

    @Test
    void whatVl4jCannotTakeIsALangChain4jError() throws Exception {
        assertThrows(UnsupportedFeatureException.class, () -> chat.chat(ChatRequest.builder().messages(UserMessage.from("Hi"))
                .toolSpecifications(ToolSpecification.builder().name("clock").description("the time").build()).build()));
        InvalidRequestException notAnImage = assertThrows(InvalidRequestException.class, () -> chat.chat(UserMessage.from(
                ImageContent.from(Base64.getEncoder().encodeToString("not a picture".getBytes()), "image/png"), TextContent.from("Hi"))));
        assertTrue(notAnImage.getMessage().contains("not an image"), notAnImage.getMessage());
        InvalidRequestException badTemperature = assertThrows(InvalidRequestException.class, () -> chat.chat(ChatRequest.builder()
                .messages(UserMessage.from("Hi")).temperature(7.0).build()));
        assertTrue(badTemperature.getMessage().contains("temperature"), badTemperature.getMessage());

        CompletableFuture<Throwable> error = new CompletableFuture<>();
        streaming.chat(ChatRequest.builder().messages(UserMessage.from("Hi")).temperature(7.0).build(), new StreamingChatResponseHandler() {
            @Override
            public void onCompleteResponse(ChatResponse response) {
                error.complete(null);
            }

            @Override
            public void onError(Throwable e) {
                error.complete(e);
            }
        });
        assertInstanceOf(InvalidRequestException.class, error.get(30, TimeUnit.SECONDS));
    }
}
