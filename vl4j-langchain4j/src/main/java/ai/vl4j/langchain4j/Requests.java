package ai.vl4j.langchain4j;

import ai.vl4j.InvalidInputException;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.server.ChatMessages;
import ai.vl4j.server.Completion;
import ai.vl4j.server.LocalEngine;
import ai.vl4j.text.ChatTemplate;
import ai.vl4j.text.Message;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.langchain4j.data.image.Image;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.LangChain4jException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

/**
 * LangChain4j's chat request ↔ vl4j's completion. The messages are written as the OpenAI request body the server
 * takes and read back by the server's own parser, so LangChain4j requests follow the server's rules exactly: system
 * messages replace the default system prompt, consecutive messages of one speaker are joined, each image is an
 * {@code <image_placeholder>} at its place in the text, the last message is the user's; the defaults are the
 * server's (greedy, 512 new tokens, clipped to the context). Images may be base64 data, {@code data:} or
 * {@code file:} URIs, or http(s) URLs (fetched). Tools, JSON response formats and tool results are not supported.
 */
final class Requests {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30))
            .followRedirects(HttpClient.Redirect.NORMAL).build();
    static final int DEFAULT_MAX_TOKENS = 512;

    private Requests() {
    }

    /** The request as a completion for the engine; a request vl4j cannot take is a LangChain4j exception. */
    static Completion completion(LocalEngine engine, ChatRequest request, String id) {
        if (request.toolSpecifications() != null && !request.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("vl4j: tools (function calling) are not supported by DeepSeek-VL");
        }
        if (request.responseFormat() != null && request.responseFormat().type() == ResponseFormatType.JSON) {
            throw new UnsupportedFeatureException("vl4j: JSON response formats are not supported");
        }
        ObjectNode body = JSON.createObjectNode();
        ArrayNode messages = body.putArray("messages");
        for (ChatMessage m : request.messages()) {
            messages.add(message(m));
        }
        if (request.maxOutputTokens() != null) {
            body.put("max_tokens", request.maxOutputTokens());
        }
        if (request.temperature() != null) {
            body.put("temperature", request.temperature());
        }
        if (request.topP() != null) {
            body.put("top_p", request.topP());
        }
        if (request.topK() != null) {
            body.put("top_k", request.topK());
        }
        if (request.stopSequences() != null && !request.stopSequences().isEmpty()) {
            ArrayNode stop = body.putArray("stop");
            request.stopSequences().forEach(stop::add);
        }
        try {
            var parsed = ai.vl4j.server.ChatRequest.parse(body);
            List<Message> turns = ChatMessages.of(parsed, engine.model().config().chatProcessor().imageTag(), Requests::image);
            SamplingOptions options = new SamplingOptions(parsed.maxTokens() == null ? DEFAULT_MAX_TOKENS : parsed.maxTokens(),
                    parsed.temperature(), parsed.topK(), parsed.topP(), parsed.repetitionPenalty(), parsed.seed());
            String system = parsed.systemPrompt() == null ? ChatTemplate.DEFAULT_SYSTEM_PROMPT : parsed.systemPrompt();
            return engine.completion(id, turns, system, options, parsed.stop());
        } catch (LangChain4jException e) {
            throw e;
        } catch (RuntimeException e) {       // the server's 400s, InvalidInputException: what is wrong with the request
            throw new InvalidRequestException("vl4j: " + e.getMessage(), e);
        }
    }

    /** One LangChain4j message as an OpenAI chat message. */
    private static ObjectNode message(ChatMessage m) {
        ObjectNode out = JSON.createObjectNode();
        switch (m) {
            case SystemMessage s -> out.put("role", "system").put("content", s.text());
            case UserMessage u -> {
                out.put("role", "user");
                ArrayNode parts = out.putArray("content");
                for (Content c : u.contents()) {
                    switch (c) {
                        case TextContent t -> parts.addObject().put("type", "text").put("text", t.text());
                        case ImageContent i -> parts.addObject().put("type", "image_url").putObject("image_url").put("url", url(i.image()));
                        default -> throw new UnsupportedFeatureException("vl4j: " + c.type() + " content is not supported (text and images are)");
                    }
                }
            }
            case AiMessage a -> {
                if (a.hasToolExecutionRequests()) {
                    throw new UnsupportedFeatureException("vl4j: tool calls are not supported by DeepSeek-VL");
                }
                out.put("role", "assistant").put("content", a.text() == null ? "" : a.text());
            }
            default -> throw new UnsupportedFeatureException("vl4j: " + m.type() + " messages are not supported");
        }
        return out;
    }

    /** A LangChain4j image as a URL the server's parser takes: its URL, or its base64 data as a data: URI. */
    private static String url(Image image) {
        if (image.base64Data() != null) {
            String mime = image.mimeType() == null ? "image/png" : image.mimeType();
            return "data:" + mime + ";base64," + image.base64Data();
        }
        if (image.url() == null) {
            throw new InvalidRequestException("vl4j: an image has neither a URL nor base64 data");
        }
        return image.url().toString();
    }

    /** Pixels of an image part's URL: data: (decoded), file: or a path (read), http(s) (fetched). */
    private static RgbImage image(String url, String param) {
        try {
            if (url.startsWith("data:")) {
                return ImageLoader.load(url);
            }
            if (url.startsWith("http://") || url.startsWith("https://")) {
                HttpResponse<byte[]> response = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60)).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                if (response.statusCode() != 200) {
                    throw new InvalidInputException(url + ": HTTP " + response.statusCode());
                }
                return ImageLoader.decode(response.body(), url);
            }
            return ImageLoader.load(url.startsWith("file:") ? Path.of(URI.create(url)) : Path.of(url));
        } catch (IOException e) {
            throw new InvalidInputException(url + ": cannot fetch the image (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InvalidInputException(url + ": interrupted while fetching the image");
        }
    }

    /** The finished completion as LangChain4j's response. */
    static ChatResponse response(String id, Completion.Done done, String modelName) {
        return ChatResponse.builder()
                .aiMessage(AiMessage.from(done.text()))
                .id(id)
                .modelName(modelName)
                .tokenUsage(new TokenUsage(done.promptTokens(), done.completionTokens()))
                .finishReason(done.finishReason().equals("length") ? FinishReason.LENGTH : FinishReason.STOP)
                .build();
    }

    static String newId() {
        return "chatcmpl-" + UUID.randomUUID().toString().replace("-", "");
    }

    /** A failed completion as the exception LangChain4j callers expect. */
    static RuntimeException failure(Completion.Failed failed) {
        return new LangChain4jException("vl4j: " + failed.message());
    }
}
