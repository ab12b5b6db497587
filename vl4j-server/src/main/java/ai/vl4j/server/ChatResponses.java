package ai.vl4j.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The JSON bodies of OpenAI's chat API, as this server writes them. */
final class ChatResponses {
    static final ObjectMapper JSON = new ObjectMapper();

    private ChatResponses() {
    }

    /** A non-streaming {@code chat.completion}. */
    static ObjectNode completion(String id, long created, String model, String text, String finishReason, int promptTokens,
                                 int cachedTokens, int completionTokens) {
        ObjectNode root = header(id, "chat.completion", created, model);
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode message = choice.putObject("message");
        message.put("role", "assistant");
        message.put("content", text);
        message.putNull("refusal");
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason);
        root.set("usage", usage(promptTokens, cachedTokens, completionTokens));
        return root;
    }

    /** The vl4j extension {@code token_ids} on a response's (or last chunk's) choice: the answer's ids, end-of-sentence left out. */
    static void tokenIds(ObjectNode response, int[] ids) {
        var array = ((ObjectNode) response.get("choices").get(0)).putArray("token_ids");
        for (int id : ids) {
            array.add(id);
        }
    }

    /**
     * One {@code chat.completion.chunk}: role (first chunk only) and/or content in the delta, the finish reason on
     * the last; withUsage adds {@code "usage": null} as OpenAI does when usage was asked for.
     */
    static ObjectNode chunk(String id, long created, String model, String role, String content, String finishReason,
                            boolean withUsage) {
        ObjectNode root = header(id, "chat.completion.chunk", created, model);
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode delta = choice.putObject("delta");
        if (role != null) {
            delta.put("role", role);
        }
        if (content != null) {
            delta.put("content", content);
        }
        choice.putNull("logprobs");
        if (finishReason == null) {
            choice.putNull("finish_reason");
        } else {
            choice.put("finish_reason", finishReason);
        }
        if (withUsage) {
            root.putNull("usage");
        }
        return root;
    }

    /** The extra last chunk of {@code stream_options.include_usage}: no choices, the usage. */
    static ObjectNode usageChunk(String id, long created, String model, int promptTokens, int cachedTokens, int completionTokens) {
        ObjectNode root = header(id, "chat.completion.chunk", created, model);
        root.putArray("choices");
        root.set("usage", usage(promptTokens, cachedTokens, completionTokens));
        return root;
    }

    /** OpenAI's usage object; cached_tokens counts prompt tokens taken from an earlier request's KV cache. */
    static ObjectNode usage(int promptTokens, int cachedTokens, int completionTokens) {
        ObjectNode usage = JSON.createObjectNode();
        usage.put("prompt_tokens", promptTokens);
        usage.put("completion_tokens", completionTokens);
        usage.put("total_tokens", promptTokens + completionTokens);
        usage.putObject("prompt_tokens_details").put("cached_tokens", cachedTokens);
        return usage;
    }

    static ObjectNode models(String model, long created) {
        ObjectNode root = JSON.createObjectNode();
        root.put("object", "list");
        ArrayNode data = root.putArray("data");
        ObjectNode m = data.addObject();
        m.put("id", model);
        m.put("object", "model");
        m.put("created", created);
        m.put("owned_by", "vl4j");
        return root;
    }

    static ObjectNode error(ApiException e) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode error = root.putObject("error");
        error.put("message", e.getMessage());
        error.put("type", e.type);
        if (e.param == null) {
            error.putNull("param");
        } else {
            error.put("param", e.param);
        }
        if (e.code == null) {
            error.putNull("code");
        } else {
            error.put("code", e.code);
        }
        return root;
    }

    static String write(ObjectNode node) {
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ObjectNode header(String id, String object, long created, String model) {
        ObjectNode root = JSON.createObjectNode();
        root.put("id", id);
        root.put("object", object);
        root.put("created", created);
        root.put("model", model);
        root.putNull("system_fingerprint");
        return root;
    }
}
