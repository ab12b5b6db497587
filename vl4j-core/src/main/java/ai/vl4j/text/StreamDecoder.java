package ai.vl4j.text;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Turns generated ids into text as they arrive. A token may end in the middle of a UTF-8 character (Chinese
 * text and emoji often do); those bytes are held until the character is complete, so every piece handed out is
 * valid text and the pieces concatenate to exactly {@link Tokenizer#decode}.
 */
public final class StreamDecoder {
    private final Tokenizer tokenizer;
    private final boolean skipSpecial;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE);
    private ByteBuffer pending = ByteBuffer.allocate(64);

    StreamDecoder(Tokenizer tokenizer, boolean skipSpecial) {
        this.tokenizer = tokenizer;
        this.skipSpecial = skipSpecial;
    }

    /** The text that id completes (possibly empty). */
    public String next(int id) {
        if (skipSpecial && tokenizer.isSpecial(id)) {
            return "";
        }
        byte[] bytes = tokenizer.bytesOf(id);
        if (pending.remaining() < bytes.length) {
            ByteBuffer bigger = ByteBuffer.allocate(Math.max(pending.capacity() * 2, pending.position() + bytes.length));
            pending.flip();
            bigger.put(pending);
            pending = bigger;
        }
        pending.put(bytes);
        return drain(false);
    }

    /** Whatever is still held (an incomplete character becomes U+FFFD). */
    public String finish() {
        return drain(true);
    }

    private String drain(boolean endOfInput) {
        pending.flip();
        CharBuffer out = CharBuffer.allocate(pending.remaining() * 2 + 2);
        utf8.decode(pending, out, endOfInput);
        if (endOfInput) {
            utf8.flush(out);
            utf8.reset();
        }
        pending.compact();
        out.flip();
        return out.toString();
    }
}
