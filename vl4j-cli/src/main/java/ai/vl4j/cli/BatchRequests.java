package ai.vl4j.cli;

import ai.vl4j.InvalidInputException;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.server.ChatMessages;
import ai.vl4j.server.ChatRequest;
import ai.vl4j.server.Completion;
import ai.vl4j.server.LocalEngine;
import ai.vl4j.text.Message;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a batch input's request into a {@link Completion} for the scheduler: images decoded, the prompt templated
 * and tokenized, the token budget clipped to the context. A JSONL line takes the server's fields, checked by the
 * server's own parser ({@link ChatRequest}), so a line is valid in a batch exactly when its body would be valid
 * for {@code POST /v1/chat/completions}: {@code messages} in OpenAI's format (image_url parts), or vl4j's short
 * form {@code prompt} + {@code images} (as {@code vl4j run}: one image tag per image at the start unless the prompt
 * places them); {@code max_tokens}, {@code temperature}, {@code top_p}, {@code top_k}, {@code repetition_penalty},
 * {@code seed}, {@code stop}. Fields a line leaves out take the command's flags. Image paths are relative to the
 * JSONL file's folder; {@code data:} URIs and {@code file:} URIs work too.
 */
final class BatchRequests {
    private final LocalEngine engine;
    private final DeepSeekVl vl;
    private final Path base;
    private final String defaultPrompt;     // the folder's prompt, and a line's when it has neither prompt nor messages
    private final String system;
    private final SamplingOptions defaults;

    BatchRequests(LocalEngine engine, Path base, String defaultPrompt, String system, SamplingOptions defaults) {
        this.engine = engine;
        this.vl = engine.model();
        this.base = base;
        this.defaultPrompt = defaultPrompt;
        this.system = system;
        this.defaults = defaults;
    }

    /** The request ready to queue; any problem with it is an exception whose message names it. */
    Completion prepare(BatchInput.Request r) {
        if (r.problem() != null) {
            throw new InvalidInputException(r.where() + ": " + r.problem());
        }
        if (r.image() != null) {
            RgbImage image = ImageLoader.load(r.image());
            return completion(r.id(), List.of(Message.user(prompt(null, r.where()), image)), system, defaults, List.of());
        }
        return fromJson(r);
    }

    private Completion fromJson(BatchInput.Request r) {
        ObjectNode line = ((ObjectNode) r.json()).deepCopy();
        boolean hasMessages = present(line, "messages");
        boolean hasImages = present(line, "images");
        if (hasMessages && (hasImages || present(line, "prompt"))) {
            throw new InvalidInputException(r.where() + ": give either messages, or prompt and images, not both");
        }
        String promptText = null;
        if (!hasMessages) {
            JsonNode p = line.get("prompt");
            if (p != null && !p.isNull() && !p.isTextual()) {
                throw new InvalidInputException(r.where() + ": prompt must be a string");
            }
            promptText = prompt(p == null || p.isNull() ? null : p.asText(), r.where());
            // only to have the server's parser check the sampling fields; the message is built below, as vl4j run does
            line.putArray("messages").addObject().put("role", "user").put("content", promptText);
        }
        withDefaults(line);
        ChatRequest request;
        try {
            request = ChatRequest.parse(line);
        } catch (RuntimeException e) {
            throw new InvalidInputException(r.where() + ": " + e.getMessage());
        }
        List<Message> messages;
        if (hasMessages) {
            messages = ChatMessages.of(request, vl.config().chatProcessor().imageTag(), (url, param) -> image(url, r.where() + ": " + param));
        } else {
            messages = List.of(Message.user(promptText, images(line.get("images"), r.where()).toArray(RgbImage[]::new)));
        }
        SamplingOptions options = new SamplingOptions(request.maxTokens(), request.temperature(), request.topK(),
                request.topP(), request.repetitionPenalty(), request.seed());
        return completion(r.id(), messages, request.systemPrompt() != null ? request.systemPrompt() : system, options, request.stop());
    }

    /** The prompt given, else the command's --prompt, else an error. */
    private String prompt(String given, String where) {
        if (given != null) {
            return given;
        }
        if (defaultPrompt == null) {
            throw new InvalidInputException(where + ": no prompt: give the request a \"prompt\" or \"messages\", or the job a --prompt");
        }
        return defaultPrompt;
    }

    /** Puts the command's sampling flags into the fields a line leaves out. */
    private void withDefaults(ObjectNode line) {
        if (!present(line, "max_tokens") && !present(line, "max_completion_tokens")) {
            line.put("max_tokens", defaults.maxNewTokens());
        }
        if (!present(line, "temperature")) {
            line.put("temperature", defaults.temperature());
        }
        if (!present(line, "top_p")) {
            line.put("top_p", defaults.topP());
        }
        if (!present(line, "top_k")) {
            line.put("top_k", defaults.topK());
        }
        if (!present(line, "repetition_penalty")) {
            line.put("repetition_penalty", defaults.repetitionPenalty());
        }
        if (!present(line, "seed") && defaults.seed() != null) {
            line.put("seed", defaults.seed());
        }
    }

    private List<RgbImage> images(JsonNode images, String where) {
        List<RgbImage> out = new ArrayList<>();
        if (images == null || images.isNull()) {
            return out;
        }
        if (!images.isArray()) {
            throw new InvalidInputException(where + ": images must be an array of paths or data: URIs");
        }
        for (int i = 0; i < images.size(); i++) {
            JsonNode image = images.get(i);
            if (!image.isTextual()) {
                throw new InvalidInputException(where + ": images[" + i + "] must be a string (a path or a data: URI)");
            }
            out.add(image(image.asText(), where + ": images[" + i + "]"));
        }
        return out;
    }

    /** An image by path (relative to the input's folder), file: URI or data: URI. */
    private RgbImage image(String source, String where) {
        try {
            if (source.startsWith("data:")) {
                return ImageLoader.load(source);
            }
            if (source.startsWith("http://") || source.startsWith("https://")) {
                throw new InvalidInputException("images are read from files or data: URIs; download " + source + " first");
            }
            Path file = source.startsWith("file:") ? Path.of(URI.create(source)) : base.resolve(source);
            return ImageLoader.load(file);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(where + ": " + e.getMessage());
        } catch (InvalidInputException e) {
            throw new InvalidInputException(where + ": " + e.getMessage());
        }
    }

    private Completion completion(String id, List<Message> messages, String systemPrompt, SamplingOptions options, List<String> stop) {
        return engine.completion(id, messages, systemPrompt, options, stop);
    }

    private static boolean present(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v != null && !v.isNull();
    }
}
