package ai.vl4j.text;

import ai.vl4j.InvalidInputException;
import java.util.List;

/**
 * The {@code deepseek} conversation template (spec §6.1), as {@code VLChatProcessor} applies it:
 * <pre>
 *   system + "\n\n"
 *   + for message i:  role + ": " + content.strip() + (i even ? "\n\n" : "<｜end▁of▁sentence｜>")
 *   + "Assistant:"                                  (the generation prompt: an empty assistant turn)
 *   then the whole prompt .strip()ped
 * </pre>
 */
public final class ChatTemplate {
    /** VLChatProcessor.system_prompt, verbatim. */
    public static final String DEFAULT_SYSTEM_PROMPT = "You are a helpful language and vision assistant. "
            + "You are able to understand the visual content that the user provides, "
            + "and assist the user with a variety of tasks using natural language.";
    public static final String EOS_TEXT = "<｜end▁of▁sentence｜>";
    private static final String SEP = "\n\n";

    private ChatTemplate() {
    }

    /**
     * The prompt text for messages, which must alternate User, Assistant, User, ... and end with a User turn
     * (the model then writes the next Assistant turn).
     */
    public static String render(List<Message> messages, String systemPrompt) {
        if (messages.isEmpty()) {
            throw new InvalidInputException("the conversation is empty");
        }
        StringBuilder out = new StringBuilder();
        if (systemPrompt != null && !systemPrompt.isEmpty()) {
            out.append(systemPrompt).append(SEP);
        }
        for (int i = 0; i < messages.size(); i++) {
            Message m = messages.get(i);
            Role expected = i % 2 == 0 ? Role.USER : Role.ASSISTANT;
            if (m.role() != expected) {
                throw new InvalidInputException("message " + (i + 1) + " is from " + m.role().label
                        + "; turns must alternate User, Assistant, ... starting with User");
            }
            appendTurn(out, m.role(), pythonStrip(m.content()), i);
        }
        if (messages.getLast().role() != Role.USER) {
            throw new InvalidInputException("the conversation must end with a User turn");
        }
        appendTurn(out, Role.ASSISTANT, "", messages.size());
        return pythonStrip(out.toString());
    }

    private static void appendTurn(StringBuilder out, Role role, String content, int index) {
        if (content.isEmpty()) {
            out.append(role.label).append(':');
        } else {
            out.append(role.label).append(": ").append(content).append(index % 2 == 0 ? SEP : EOS_TEXT);
        }
    }

    /** Python's str.strip(): removes leading and trailing characters for which str.isspace() is true. */
    public static String pythonStrip(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && isPythonSpace(s.charAt(start))) {
            start++;
        }
        while (end > start && isPythonSpace(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(start, end);
    }

    static boolean isPythonSpace(char c) {
        return (c >= '\t' && c <= '\r') || (c >= '\u001c' && c <= ' ') || c == '\u0085' || c == '\u00a0'
                || c == '\u1680' || (c >= '\u2000' && c <= '\u200a') || c == '\u2028' || c == '\u2029'
                || c == '\u202f' || c == '\u205f' || c == '\u3000';
    }
}
