package ai.vl4j.train.data;

import ai.vl4j.text.ChatTemplate;
import ai.vl4j.text.Message;
import ai.vl4j.text.Role;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads one line of the training JSONL format (fixture README §2) and checks every rule of it:
 * <ul>
 *   <li>one JSON object per line (duplicate keys and anything after the object are errors);</li>
 *   <li>{@code text} or {@code conversations}, never both (a {@code null} value counts as absent, as
 *       data-frame exports write it); unknown keys are ignored;</li>
 *   <li>{@code images}: absent, {@code null} or an array of path strings, relative to the JSONL file's
 *       folder (absolute paths are kept);</li>
 *   <li>{@code text} is used verbatim and must not be empty after {@code strip()};</li>
 *   <li>{@code conversations} alternate {@code "User"}, {@code "Assistant"} (case-sensitive), start with
 *       User, end with Assistant; every content is a string, non-empty after {@code strip()};</li>
 *   <li>{@code <image_placeholder>} may stand in {@code text} or in User turns (not in answers), and the
 *       number of placeholders equals the number of images.</li>
 * </ul>
 * Every violation is a {@link BadSampleException} naming the file, line and field. Thread-safe.
 */
public final class JsonlParser {
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final String imageTag;

    /** @param imageTag the placeholder text of the model's processor_config.json ({@code <image_placeholder>}) */
    public JsonlParser(String imageTag) {
        this.imageTag = imageTag;
    }

    /**
     * Parses one non-blank line.
     *
     * @param json    the line's text (without its line break)
     * @param source  file and line, for records and errors
     * @param baseDir the folder relative image paths are resolved against (the JSONL file's folder)
     */
    public JsonlRecord parse(String json, SampleSource source, Path baseDir) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JacksonException e) {
            JsonLocation at = e.getLocation();
            String where = at != null && at.getColumnNr() > 0 ? " at column " + at.getColumnNr() : "";
            throw new BadSampleException(source, null, "not valid JSON" + where + ": " + jsonProblem(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new BadSampleException(source, null, "expected a JSON object, got " + describe(root));
        }
        JsonNode text = present(root, "text");
        JsonNode conversations = present(root, "conversations");
        if (text != null && conversations != null) {
            throw new BadSampleException(source, "text", "the line has both text and conversations; a sample is one or the other");
        }
        if (text == null && conversations == null) {
            throw new BadSampleException(source, null, "the line has neither text nor conversations");
        }
        List<Path> images = images(present(root, "images"), source, baseDir);
        return text != null ? textSample(text, images, source) : conversation(conversations, images, source);
    }

    private JsonlRecord textSample(JsonNode node, List<Path> images, SampleSource source) {
        if (!node.isTextual()) {
            throw new BadSampleException(source, "text", "must be a string, got " + describe(node));
        }
        String text = node.textValue();
        if (ChatTemplate.pythonStrip(text).isEmpty()) {
            throw new BadSampleException(source, "text", "is empty");
        }
        checkCount(count(text), images.size(), "text", source);
        return new JsonlRecord(source, images.isEmpty() ? SampleKind.TEXT : SampleKind.CAPTION, text, List.of(), images);
    }

    private JsonlRecord conversation(JsonNode turns, List<Path> images, SampleSource source) {
        if (!turns.isArray() || turns.isEmpty()) {
            throw new BadSampleException(source, "conversations", "must be a non-empty array of {\"role\", \"content\"} turns, got "
                    + (turns.isArray() ? "an empty array" : describe(turns)));
        }
        List<Message> messages = new ArrayList<>();
        int tags = 0;
        for (int i = 0; i < turns.size(); i++) {
            String field = "conversations[" + i + "]";
            JsonNode turn = turns.get(i);
            if (!turn.isObject()) {
                throw new BadSampleException(source, field, "must be an object with role and content, got " + describe(turn));
            }
            Role role = role(turn.get("role"), field + ".role", i, source);
            JsonNode content = turn.get("content");
            if (content == null || !content.isTextual()) {
                throw new BadSampleException(source, field + ".content", "must be a string, got " + describe(content));
            }
            String text = content.textValue();
            if (ChatTemplate.pythonStrip(text).isEmpty()) {
                throw new BadSampleException(source, field + ".content", "is empty");
            }
            int n = count(text);
            if (n > 0 && role == Role.ASSISTANT) {
                throw new BadSampleException(source, field + ".content", imageTag + " in an Assistant turn; images belong to User turns");
            }
            tags += n;
            messages.add(role == Role.USER ? Message.user(text) : Message.assistant(text));
        }
        if (messages.getLast().role() != Role.ASSISTANT) {
            throw new BadSampleException(source, "conversations", "ends with a User turn; a sample ends with the Assistant's answer");
        }
        checkCount(tags, images.size(), "the User turns", source);
        return new JsonlRecord(source, SampleKind.SFT, null, messages, images);
    }

    private static Role role(JsonNode node, String field, int index, SampleSource source) {
        if (node == null || !node.isTextual()) {
            throw new BadSampleException(source, field, "must be the string \"User\" or \"Assistant\", got " + describe(node));
        }
        String value = node.textValue();
        Role role = null;
        for (Role r : Role.values()) {
            if (r.label.equals(value)) {
                role = r;
            }
        }
        if (role == null) {
            throw new BadSampleException(source, field, "\"" + value + "\" is not a role; roles are \"User\" and \"Assistant\" (case-sensitive)");
        }
        Role expected = index % 2 == 0 ? Role.USER : Role.ASSISTANT;
        if (role != expected) {
            throw new BadSampleException(source, field, "expected \"" + expected.label + "\", got \"" + value
                    + "\" (turns alternate User, Assistant, ... starting with User)");
        }
        return role;
    }

    private static List<Path> images(JsonNode node, SampleSource source, Path baseDir) {
        if (node == null) {
            return List.of();
        }
        if (!node.isArray()) {
            throw new BadSampleException(source, "images", "must be an array of image paths, got " + describe(node));
        }
        List<Path> paths = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode p = node.get(i);
            if (!p.isTextual() || p.textValue().isBlank()) {
                throw new BadSampleException(source, "images[" + i + "]", "must be a non-empty path string, got " + describe(p));
            }
            try {
                paths.add(baseDir.resolve(p.textValue()));
            } catch (InvalidPathException e) {
                throw new BadSampleException(source, "images[" + i + "]", "not a valid path: " + e.getMessage(), e);
            }
        }
        return paths;
    }

    private void checkCount(int tags, int images, String where, SampleSource source) {
        if (tags != images) {
            throw new BadSampleException(source, "images", images + " image" + (images == 1 ? "" : "s") + " but " + tags + " "
                    + imageTag + " tag" + (tags == 1 ? "" : "s") + " in " + where + " (they pair up in order)");
        }
    }

    /** Non-overlapping occurrences of the placeholder (the tokenizer splits it out the same way). */
    private int count(String s) {
        int n = 0;
        for (int at = s.indexOf(imageTag); at >= 0; at = s.indexOf(imageTag, at + imageTag.length())) {
            n++;
        }
        return n;
    }

    /** Jackson's message without its source excerpts and class names. */
    private static String jsonProblem(JacksonException e) {
        String m = e.getOriginalMessage();
        if (m != null && m.startsWith("Trailing token")) {
            return "more after the JSON object (one object per line)";
        }
        return m == null ? e.getClass().getSimpleName() : m.replaceAll("\\s*\\(start marker at \\[Source:.*$", "")
                .replaceAll("\\s*\\[Source:[^]]*]", "");
    }

    private static JsonNode present(JsonNode root, String key) {
        JsonNode v = root.get(key);
        return v == null || v.isNull() ? null : v;
    }

    private static String describe(JsonNode node) {
        if (node == null || node.isMissingNode()) {
            return "nothing";
        }
        String type = switch (node.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            default -> node.getNodeType().toString().toLowerCase();
        };
        String text = node.toString();
        return type + (node.isContainerNode() || text.length() > 40 ? "" : " (" + text + ")");
    }
}
