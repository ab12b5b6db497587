package ai.vl4j.vlm;

import ai.vl4j.InvalidInputException;
import ai.vl4j.ModelFormatException;
import ai.vl4j.image.RgbImage;
import ai.vl4j.text.ChatProcessorConfig;
import ai.vl4j.text.ChatTemplate;
import ai.vl4j.text.Message;
import ai.vl4j.text.Role;
import ai.vl4j.text.Tokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code VLChatProcessor.process_one}: template the conversation, tokenize it with BOS, and expand every
 * image placeholder id into numImageTokens copies (spec §6.2). Images pair with placeholders in order of
 * appearance across the whole conversation.
 */
public final class PromptBuilder {
    private final Tokenizer tokenizer;
    private final ChatProcessorConfig cfg;
    private final int imageId;

    public PromptBuilder(Tokenizer tokenizer, ChatProcessorConfig cfg) {
        this.tokenizer = tokenizer;
        this.cfg = cfg;
        this.imageId = tokenizer.addedTokenId(cfg.imageTag());
        if (imageId < 0) {
            throw new ModelFormatException("tokenizer.json has no added token " + cfg.imageTag());
        }
    }

    public int imageId() {
        return imageId;
    }

    public Prompt build(List<Message> messages, String systemPrompt) {
        List<Message> tagged = new ArrayList<>();
        List<RgbImage> images = new ArrayList<>();
        for (Message m : messages) {
            images.addAll(m.images());
            boolean hasTag = m.content().contains(cfg.imageTag());
            if (m.role() == Role.USER && !m.images().isEmpty() && !hasTag) {
                tagged.add(new Message(m.role(), cfg.imageTag().repeat(m.images().size()) + m.content(), m.images()));
            } else {
                tagged.add(m);
            }
        }
        String text = ChatTemplate.render(tagged, systemPrompt);
        int[] ids = tokenizer.encode(text, true);
        int tags = 0;
        for (int id : ids) {
            if (id == imageId) {
                tags++;
            }
        }
        if (tags != images.size()) {
            throw new InvalidInputException("the prompt has " + tags + " " + cfg.imageTag() + " tag" + (tags == 1 ? "" : "s")
                    + " but " + images.size() + " image" + (images.size() == 1 ? " was" : "s were") + " given");
        }
        int n = cfg.numImageTokens();
        int[] expanded = new int[ids.length + tags * (n - 1)];
        int[] starts = new int[tags];
        int o = 0;
        int image = 0;
        for (int id : ids) {
            if (id != imageId) {
                expanded[o++] = id;
                continue;
            }
            starts[image++] = o;
            for (int i = 0; i < n; i++) {
                expanded[o++] = imageId;
            }
        }
        return new Prompt(text, expanded, List.copyOf(images), starts);
    }
}
