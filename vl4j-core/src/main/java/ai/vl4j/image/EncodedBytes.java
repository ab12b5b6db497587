package ai.vl4j.image;

import javax.imageio.stream.ImageInputStreamImpl;

/**
 * An image file's bytes as an {@link javax.imageio.stream.ImageInputStream} that remembers whether a decoder asked
 * for bytes past the end of the file. That is how a truncated file shows: the JDK's JPEG decoder, like libjpeg's,
 * pads a file cut short with an end-of-image marker and decodes the rest as grey (it only warns), and the other
 * decoders fail on the missing bytes; Pillow refuses both. Its length is left unknown (-1), as for the stream
 * {@code ImageIO.createImageInputStream} makes, so the readers choose themselves as they always have.
 */
final class EncodedBytes extends ImageInputStreamImpl {
    private final byte[] bytes;
    private boolean pastEnd;

    EncodedBytes(byte[] bytes) {
        this.bytes = bytes;
    }

    /** True when a read since the last {@link #clearPastEnd} found no bytes left. */
    boolean pastEnd() {
        return pastEnd;
    }

    void clearPastEnd() {
        pastEnd = false;
    }

    @Override
    public int read() {
        bitOffset = 0;
        if (streamPos >= bytes.length) {
            pastEnd = true;
            return -1;
        }
        return bytes[(int) streamPos++] & 0xff;
    }

    @Override
    public int read(byte[] into, int offset, int length) {
        bitOffset = 0;
        if (length == 0) {
            return 0;
        }
        if (streamPos >= bytes.length) {
            pastEnd = true;
            return -1;
        }
        int n = (int) Math.min(length, bytes.length - streamPos);
        System.arraycopy(bytes, (int) streamPos, into, offset, n);
        streamPos += n;
        return n;
    }
}
