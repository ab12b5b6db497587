package ai.vl4j.text;

/**
 * The GPT-2 byte alphabet of byte-level BPE: every byte is shown as one printable code point. Bytes
 * 0x21–0x7E, 0xA1–0xAC and 0xAE–0xFF stand for themselves; the other 68 bytes map, in increasing order,
 * to U+0100, U+0101, … (space → U+0120 'Ġ', LF → U+010A 'Ċ').
 */
final class ByteLevel {
    /** CHAR_TO_BYTE[codePoint] = byte + 1 for alphabet characters (0 elsewhere), code points < 0x200. */
    private static final int[] CHAR_TO_BYTE = new int[0x200];

    static {
        int next = 0x100;
        for (int b = 0; b < 256; b++) {
            boolean self = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
            int cp = self ? b : next++;
            CHAR_TO_BYTE[cp] = b + 1;
        }
    }

    private ByteLevel() {
    }

    /**
     * The bytes a token string stands for, as HF's ByteLevel decoder gives them: each character mapped back to
     * its byte, or, when some character is outside the alphabet (special tokens such as
     * {@code <｜end▁of▁sentence｜>}), the token's own UTF-8 bytes.
     */
    static byte[] tokenBytes(String token) {
        byte[] out = new byte[token.length()];
        int n = 0;
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            int b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : 0;
            if (b == 0) {
                return token.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            }
            out[n++] = (byte) (b - 1);
        }
        return java.util.Arrays.copyOf(out, n);
    }
}
