package ai.vl4j.hub;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The content ids the hub serves as ETags: the SHA-256 of an LFS file (64 hex digits), or the git blob id of a
 * small file (40 hex digits: SHA-1 of "blob LENGTH\0" + content). Other ETags cannot be checked.
 */
final class Checksums {
    private Checksums() {
    }

    /** True when file's content has the id etag, or when etag is not a checkable id. */
    static boolean matches(Path file, String etag) throws IOException {
        if (etag == null) {
            return true;
        }
        if (etag.matches("[0-9a-f]{64}")) {
            return digest(file, "SHA-256", null).equals(etag);
        }
        if (etag.matches("[0-9a-f]{40}")) {
            byte[] header = ("blob " + Files.size(file) + "\0").getBytes(StandardCharsets.US_ASCII);
            return digest(file, "SHA-1", header).equals(etag);
        }
        return true;
    }

    static String gitBlobId(byte[] content) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-1");
            md.update(("blob " + content.length + "\0").getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(md.digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String digest(Path file, String algorithm, byte[] prefix) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance(algorithm);
            if (prefix != null) {
                md.update(prefix);
            }
            byte[] buf = new byte[1 << 20];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
