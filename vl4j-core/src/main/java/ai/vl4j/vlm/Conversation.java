package ai.vl4j.vlm;

import ai.vl4j.InvalidInputException;
import ai.vl4j.text.ChatTemplate;
import ai.vl4j.text.Message;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;

/**
 * A multi-turn chat: the finished rounds (a user message with its images, and the answer) and the system
 * prompt. The next prompt is the whole history plus the new user message, as the official CLI builds it; when
 * that would not leave room for the answer in the context window, the oldest rounds are dropped.
 */
public final class Conversation {
    private final List<Message> messages = new ArrayList<>();   // User, Assistant, User, Assistant, ...
    private String systemPrompt = ChatTemplate.DEFAULT_SYSTEM_PROMPT;

    /** A prompt ready for the model, and how many of the oldest rounds were dropped to make it fit. */
    public record Fitted(Prompt prompt, int roundsDropped) {
    }

    public String systemPrompt() {
        return systemPrompt;
    }

    public void systemPrompt(String text) {
        systemPrompt = text == null ? "" : text;
    }

    /** The finished rounds, oldest first. */
    public List<Message> messages() {
        return Collections.unmodifiableList(messages);
    }

    public int rounds() {
        return messages.size() / 2;
    }

    /** Records a finished round. */
    public void add(Message user, String answer) {
        messages.add(user);
        messages.add(Message.assistant(answer));
    }

    /** Forgets the last round; false when there is none. */
    public boolean undo() {
        if (messages.isEmpty()) {
            return false;
        }
        messages.removeLast();
        messages.removeLast();
        return true;
    }

    public void clear() {
        messages.clear();
    }

    /**
     * The prompt for the history followed by next. While prompt + reserve tokens exceed contextLength, the oldest
     * round is dropped from the history for good (the caller tells the user how many). The new message is never
     * dropped: when it alone does not fit, nothing is changed and InvalidInputException says so. When it fits
     * but leaves less than reserve, the answer is simply shorter.
     *
     * @param build templates and tokenizes messages (e.g. {@code m -> vl.prompt(m, systemPrompt)})
     */
    public Fitted fit(Message next, Function<List<Message>, Prompt> build, int contextLength, int reserve) {
        int drop = 0;
        while (true) {
            List<Message> candidate = new ArrayList<>(messages.subList(2 * drop, messages.size()));
            candidate.add(next);
            Prompt prompt = build.apply(candidate);
            int length = prompt.inputIds().length;
            boolean last = 2 * drop == messages.size();
            if (length + reserve <= contextLength || (last && length < contextLength)) {
                messages.subList(0, 2 * drop).clear();
                return new Fitted(prompt, drop);
            }
            if (last) {
                String images = prompt.images().isEmpty() ? "" : " (each image counts " + imageTokens(prompt) + ")";
                throw new InvalidInputException("the message needs " + length + " tokens" + images + " but the context holds "
                        + contextLength + "; shorten it or send fewer images");
            }
            drop++;
        }
    }

    /** Length of the first image's run of placeholder ids. */
    private static int imageTokens(Prompt prompt) {
        int start = prompt.imageStarts()[0];
        int id = prompt.inputIds()[start];
        int n = 0;
        while (start + n < prompt.inputIds().length && prompt.inputIds()[start + n] == id) {
            n++;
        }
        return n;
    }
}
