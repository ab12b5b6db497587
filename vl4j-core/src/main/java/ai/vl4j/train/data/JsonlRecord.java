package ai.vl4j.train.data;

import ai.vl4j.text.Message;
import java.nio.file.Path;
import java.util.List;

/**
 * One JSONL line, parsed and checked against the format's rules, not yet tokenized.
 *
 * @param source       the file and line it came from
 * @param kind         TEXT, CAPTION (text with images) or SFT (a conversation)
 * @param text         the {@code text} field verbatim (TEXT, CAPTION), else null
 * @param conversation the turns as written (contents not yet stripped), User first, Assistant last (SFT),
 *                     else empty; the messages carry no images (those are {@code images})
 * @param images       image files, resolved against the JSONL file's folder, in placeholder order
 */
public record JsonlRecord(SampleSource source, SampleKind kind, String text, List<Message> conversation, List<Path> images) {
    public JsonlRecord {
        conversation = List.copyOf(conversation);
        images = List.copyOf(images);
    }
}
