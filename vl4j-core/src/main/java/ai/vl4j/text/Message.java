package ai.vl4j.text;

import ai.vl4j.image.RgbImage;
import java.util.List;

/**
 * One turn of a conversation. Images belong to user turns and pair, in order, with the
 * {@code <image_placeholder>} tags of the content; a user turn with images but no tag gets one tag per image
 * at the start of its content (the official README's convention).
 */
public record Message(Role role, String content, List<RgbImage> images) {
    public Message {
        content = content == null ? "" : content;
        images = images == null ? List.of() : List.copyOf(images);
        if (role == Role.ASSISTANT && !images.isEmpty()) {
            throw new IllegalArgumentException("assistant turns carry no images");
        }
    }

    public static Message user(String content, RgbImage... images) {
        return new Message(Role.USER, content, List.of(images));
    }

    public static Message assistant(String content) {
        return new Message(Role.ASSISTANT, content, List.of());
    }
}
