package ai.vl4j.server;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Server-sent events as OpenAI streams them: {@code data: <json>\n\n} per chunk, {@code data: [DONE]} last. Every
 * event is flushed at once (the client renders tokens as they come). A write to a client that went away throws
 * IOException: that is how a disconnect is noticed.
 */
final class SseWriter {
    private final OutputStream out;

    SseWriter(OutputStream out) {
        this.out = out;
    }

    void data(String json) throws IOException {
        write("data: " + json + "\n\n");
    }

    /** A comment line, ignored by clients: keeps the connection alive while a request waits for a batch slot. */
    void comment(String text) throws IOException {
        write(": " + text + "\n\n");
    }

    /** The last event; it ends the response (closing the stream completes it, so a shutdown right after cannot cut it). */
    void done() throws IOException {
        write("data: [DONE]\n\n");
        out.close();
    }

    private void write(String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
