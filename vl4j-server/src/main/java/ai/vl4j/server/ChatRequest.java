package ai.vl4j.server;

import ai.vl4j.config.JsonErrors;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@code POST /v1/chat/completions} body, parsed and checked. Every known field of the wrong type or out of
 * range is a 400 naming the field (as {@code param}); unknown fields are ignored, since OpenAI clients send many
 * this server has no use for. Content is a string or an array of {@code text} and {@code image_url} parts.
 *
 * @param turns             user and assistant turns in order (system turns are folded into systemPrompt)
 * @param systemPrompt      the system / developer messages joined, or null for the model's default
 * @param maxTokens         max_completion_tokens, else max_tokens, else null (server default)
 * @param temperature       0 (the default) decodes greedily, as {@code vl4j run}
 * @param topK              vl4j extension, default 50 as {@code vl4j run}
 * @param repetitionPenalty vl4j extension, default 1
 * @param stop              up to four stop strings
 * @param returnTokenIds    vl4j extension {@code return_token_ids}: the answer's token ids in the response too
 */
public record ChatRequest(List<Turn> turns, String systemPrompt, Integer maxTokens, float temperature, float topP, int topK,
                          float repetitionPenalty, Long seed, List<String> stop, boolean stream, boolean includeUsage,
                          boolean returnTokenIds) {

    static final int MAX_STOP_STRINGS = 4;

    /** One user or assistant message: its parts in order. */
    record Turn(boolean user, List<Part> parts) {
    }

    sealed interface Part permits Text, Image {
    }

    record Text(String text) implements Part {
    }

    /** An image_url part; param is its JSON path, for error messages. */
    record Image(String url, String param) implements Part {
    }

    /**
     * The parser for request bodies: no string longer than the body may be (Jackson's own default, 20 million
     * characters, would cut data URIs short of the documented image limit), nothing after the JSON value.
     */
    static ObjectMapper parser(long maxBodyBytes) {
        int longest = (int) Math.min(Integer.MAX_VALUE, maxBodyBytes);
        JsonFactory factory = JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(longest).build())
                .build();
        return JsonMapper.builder(factory).enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
    }

    static ChatRequest parse(byte[] body) {
        return parse(body, parser(Integer.MAX_VALUE));
    }

    static ChatRequest parse(byte[] body, ObjectMapper json) {
        JsonNode root;
        try {
            root = json.readTree(body);
        } catch (JacksonException e) {
            throw ApiException.invalid("the request body is not valid JSON: " + JsonErrors.describe(e), null, "invalid_json");
        } catch (java.io.IOException e) {
            throw ApiException.invalid("cannot read the request body: " + e.getMessage(), null);
        }
        if (root == null || !root.isObject()) {
            throw ApiException.invalid("the request body must be a JSON object", null, "invalid_json");
        }
        return parse(root);
    }

    /** A body already parsed as JSON (a line of a batch file, say); unknown fields are ignored. */
    public static ChatRequest parse(JsonNode root) {
        optionalString(root, "model");
        Long n = optionalInteger(root, "n");
        if (n != null && n != 1) {
            throw ApiException.invalid("n must be 1 (one completion per request), got " + n, "n");
        }
        Boolean logprobs = optionalBoolean(root, "logprobs");
        if (Boolean.TRUE.equals(logprobs)) {
            throw ApiException.invalid("logprobs are not supported", "logprobs");
        }
        JsonNode tools = present(root, "tools");
        if (tools != null && !(tools.isArray() && tools.isEmpty())) {
            throw ApiException.invalid("tools (function calling) are not supported", "tools");
        }

        Integer maxTokens = positiveInt(root, "max_tokens");
        Integer maxCompletion = positiveInt(root, "max_completion_tokens");
        if (maxCompletion != null) {
            maxTokens = maxCompletion;
        }
        Double temperature = optionalNumber(root, "temperature");
        if (temperature != null && !(temperature >= 0 && temperature <= 2)) {
            throw ApiException.invalid("temperature must be between 0 and 2, got " + temperature, "temperature");
        }
        Double topP = optionalNumber(root, "top_p");
        if (topP != null && !(topP > 0 && topP <= 1)) {
            throw ApiException.invalid("top_p must be in (0, 1], got " + topP, "top_p");
        }
        Long topK = optionalInteger(root, "top_k");
        if (topK != null && (topK < 0 || topK > Integer.MAX_VALUE)) {
            throw ApiException.invalid("top_k must be >= 0, got " + topK, "top_k");
        }
        Double penalty = optionalNumber(root, "repetition_penalty");
        if (penalty != null && !(penalty > 0 && penalty < 1e6)) {
            throw ApiException.invalid("repetition_penalty must be > 0, got " + penalty, "repetition_penalty");
        }
        Long seed = optionalInteger(root, "seed");
        List<String> stop = stops(root);
        Boolean stream = optionalBoolean(root, "stream");
        Boolean returnTokenIds = optionalBoolean(root, "return_token_ids");
        boolean includeUsage = false;
        JsonNode options = present(root, "stream_options");
        if (options != null) {
            if (!options.isObject()) {
                throw ApiException.invalid("stream_options must be an object", "stream_options");
            }
            Boolean usage = optionalBoolean(options, "include_usage", "stream_options.include_usage");
            includeUsage = Boolean.TRUE.equals(usage);
        }

        JsonNode messages = present(root, "messages");
        if (messages == null) {
            throw ApiException.invalid("messages is required", "messages");
        }
        if (!messages.isArray()) {
            throw ApiException.invalid("messages must be an array", "messages");
        }
        if (messages.isEmpty()) {
            throw ApiException.invalid("messages must not be empty", "messages");
        }
        List<String> system = new ArrayList<>();
        List<Turn> turns = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            String param = "messages[" + i + "]";
            JsonNode m = messages.get(i);
            if (!m.isObject()) {
                throw ApiException.invalid(param + " must be an object", param);
            }
            JsonNode roleNode = present(m, "role");
            if (roleNode == null || !roleNode.isTextual()) {
                throw ApiException.invalid(param + ".role must be a string", param + ".role");
            }
            String role = roleNode.asText();
            List<Part> parts = content(m, param);
            switch (role) {
                case "system", "developer" -> {
                    StringBuilder text = new StringBuilder();
                    for (Part p : parts) {
                        if (p instanceof Image img) {
                            throw ApiException.invalid("system messages cannot carry images", img.param());
                        }
                        text.append(((Text) p).text());
                    }
                    system.add(text.toString());
                }
                case "user", "assistant" -> {
                    boolean user = role.equals("user");
                    if (!user) {
                        for (Part p : parts) {
                            if (p instanceof Image img) {
                                throw ApiException.invalid("assistant messages cannot carry images", img.param());
                            }
                        }
                    }
                    // consecutive turns of one speaker are one turn of the template (it alternates strictly)
                    if (!turns.isEmpty() && turns.getLast().user() == user) {
                        List<Part> merged = new ArrayList<>(turns.getLast().parts());
                        merged.add(new Text("\n\n"));
                        merged.addAll(parts);
                        turns.set(turns.size() - 1, new Turn(user, merged));
                    } else {
                        turns.add(new Turn(user, parts));
                    }
                }
                default -> throw ApiException.invalid(param + ".role '" + role
                        + "' is not supported (system, developer, user, assistant)", param + ".role");
            }
        }
        if (turns.isEmpty()) {
            throw ApiException.invalid("messages must contain a user message", "messages");
        }
        if (!turns.getFirst().user()) {
            throw ApiException.invalid("the conversation must start with a user message (after any system messages)", "messages");
        }
        if (!turns.getLast().user()) {
            throw ApiException.invalid("the last message must be from the user", "messages");
        }
        return new ChatRequest(List.copyOf(turns), system.isEmpty() ? null : String.join("\n\n", system), maxTokens,
                temperature == null ? 0f : temperature.floatValue(), topP == null ? 1f : topP.floatValue(),
                topK == null ? 50 : topK.intValue(), penalty == null ? 1f : penalty.floatValue(), seed, stop,
                Boolean.TRUE.equals(stream), includeUsage, Boolean.TRUE.equals(returnTokenIds));
    }

    /** Number of image parts over all turns. */
    int imageCount() {
        int count = 0;
        for (Turn t : turns) {
            for (Part p : t.parts()) {
                if (p instanceof Image) {
                    count++;
                }
            }
        }
        return count;
    }

    private static List<Part> content(JsonNode message, String param) {
        JsonNode content = present(message, "content");
        String cp = param + ".content";
        if (content == null) {
            return List.of();                       // an assistant turn may have null content
        }
        if (content.isTextual()) {
            return List.of(new Text(content.asText()));
        }
        if (!content.isArray()) {
            throw ApiException.invalid(cp + " must be a string or an array of content parts", cp);
        }
        List<Part> parts = new ArrayList<>();
        for (int j = 0; j < content.size(); j++) {
            String pp = cp + "[" + j + "]";
            JsonNode part = content.get(j);
            if (!part.isObject()) {
                throw ApiException.invalid(pp + " must be an object", pp);
            }
            JsonNode type = present(part, "type");
            if (type == null || !type.isTextual()) {
                throw ApiException.invalid(pp + ".type must be a string", pp + ".type");
            }
            switch (type.asText()) {
                case "text" -> {
                    JsonNode text = present(part, "text");
                    if (text == null || !text.isTextual()) {
                        throw ApiException.invalid(pp + ".text must be a string", pp + ".text");
                    }
                    parts.add(new Text(text.asText()));
                }
                case "image_url" -> {
                    JsonNode image = present(part, "image_url");
                    String ip = pp + ".image_url";
                    // {"url": "..."} as OpenAI specifies; a bare string as some clients send
                    JsonNode url = image != null && image.isObject() ? present(image, "url") : image;
                    if (url == null || !url.isTextual()) {
                        throw ApiException.invalid(ip + ".url must be a string (a data: URI or an http(s) URL)", ip + ".url");
                    }
                    parts.add(new Image(url.asText(), ip + ".url"));
                }
                default -> throw ApiException.invalid(pp + ".type '" + type.asText()
                        + "' is not supported (text, image_url)", pp + ".type");
            }
        }
        return parts;
    }

    private static List<String> stops(JsonNode root) {
        JsonNode stop = present(root, "stop");
        if (stop == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (stop.isTextual()) {
            out.add(stop.asText());
        } else if (stop.isArray()) {
            if (stop.size() > MAX_STOP_STRINGS) {
                throw ApiException.invalid("stop takes at most " + MAX_STOP_STRINGS + " strings, got " + stop.size(), "stop");
            }
            for (JsonNode s : stop) {
                if (!s.isTextual()) {
                    throw ApiException.invalid("stop must be a string or an array of strings", "stop");
                }
                out.add(s.asText());
            }
        } else {
            throw ApiException.invalid("stop must be a string or an array of strings", "stop");
        }
        if (out.stream().anyMatch(String::isEmpty)) {
            throw ApiException.invalid("stop strings must not be empty", "stop");
        }
        return List.copyOf(out);
    }

    /** The field, or null when absent or JSON null (clients send explicit nulls for "not set"). */
    private static JsonNode present(JsonNode obj, String field) {
        JsonNode v = obj.get(field);
        return v == null || v.isNull() ? null : v;
    }

    private static void optionalString(JsonNode obj, String field) {
        JsonNode v = present(obj, field);
        if (v != null && !v.isTextual()) {
            throw ApiException.invalid(field + " must be a string", field);
        }
    }

    private static Boolean optionalBoolean(JsonNode obj, String field) {
        return optionalBoolean(obj, field, field);
    }

    private static Boolean optionalBoolean(JsonNode obj, String field, String param) {
        JsonNode v = present(obj, field);
        if (v == null) {
            return null;
        }
        if (!v.isBoolean()) {
            throw ApiException.invalid(param + " must be a boolean", param);
        }
        return v.asBoolean();
    }

    private static Double optionalNumber(JsonNode obj, String field) {
        JsonNode v = present(obj, field);
        if (v == null) {
            return null;
        }
        if (!v.isNumber()) {
            throw ApiException.invalid(field + " must be a number", field);
        }
        return v.asDouble();
    }

    private static Long optionalInteger(JsonNode obj, String field) {
        JsonNode v = present(obj, field);
        if (v == null) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw ApiException.invalid(field + " must be an integer", field);
        }
        return v.asLong();
    }

    private static Integer positiveInt(JsonNode obj, String field) {
        Long v = optionalInteger(obj, field);
        if (v == null) {
            return null;
        }
        if (v < 1) {
            throw ApiException.invalid(field + " must be at least 1, got " + v, field);
        }
        return (int) Math.min(v, Integer.MAX_VALUE);
    }
}
