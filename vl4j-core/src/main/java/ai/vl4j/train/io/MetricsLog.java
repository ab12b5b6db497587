package ai.vl4j.train.io;

import ai.vl4j.Vl4jException;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A training run's metrics file: one JSON object per line ({@code {"step": s, "loss": ..., "lr": ..., "grad_norm":
 * ...}}, or any other record such as an evaluation), written as Python's {@code json.dumps} writes it, each line
 * handed to the operating system as soon as it is written, so a killed run loses nothing it logged.
 * <p>
 * Resuming after step K ({@link #resume}) cuts the file just before the first line that is a step record of a
 * later step ({@code "step"} > K: steps the checkpoint does not cover, which the resumed run performs again), and
 * before a last line cut short by a kill; everything before the cut is kept as it was, including lines that are
 * not step records (notes a person added, evaluations of covered steps). So a resumed run appends K+1.. and
 * nothing is duplicated; lines after the cut are about steps that are being redone and go with them.
 */
public final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    private final Path file;
    private final FileChannel channel;

    private MetricsLog(Path file, FileChannel channel) {
        this.file = file;
        this.channel = channel;
    }

    /** Starts a new metrics file (an existing one is emptied). */
    public static MetricsLog create(Path file) {
        try {
            createParent(file);
            FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING).close();
            return new MetricsLog(file, FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND));
        } catch (IOException e) {
            throw new Vl4jException(file + ": cannot create the metrics file (" + e.getMessage() + ")", e);
        }
    }

    /** Continues a metrics file after step (created when absent): later step records and a torn last line are cut. */
    public static MetricsLog resume(Path file, long step) {
        try {
            createParent(file);
            if (Files.exists(file)) {
                long cut = cutPosition(Files.readAllBytes(file), step);
                try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                    ch.truncate(cut);
                }
            }
            return new MetricsLog(file, FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND));
        } catch (IOException e) {
            throw new Vl4jException(file + ": cannot resume the metrics file (" + e.getMessage() + ")", e);
        }
    }

    /** Where the lines to keep end: before the first step record past step, or before a last line with no newline. */
    static long cutPosition(byte[] bytes, long step) {
        int start = 0;
        while (start < bytes.length) {
            int end = start;
            while (end < bytes.length && bytes[end] != '\n') {
                end++;
            }
            if (end == bytes.length) {
                return start;   // torn: a run killed while writing it
            }
            Long s = stepOf(new String(bytes, start, end - start, StandardCharsets.UTF_8));
            if (s != null && s > step) {
                return start;
            }
            start = end + 1;
        }
        return bytes.length;
    }

    /** The step of a step record, or null for any other line. */
    private static Long stepOf(String line) {
        try {
            JsonNode n = JSON.readTree(line);
            if (n != null && n.isObject() && n.path("step").isNumber()) {
                return (long) Math.floor(n.get("step").doubleValue());
            }
        } catch (JacksonException e) {
            // not JSON: a line someone added; kept
        }
        return null;
    }

    /** Appends one record as one line. */
    public synchronized void write(JsonNode record) {
        if (!record.isObject()) {
            throw new IllegalArgumentException("a metrics record is a JSON object, got " + record);
        }
        ByteBuffer line = ByteBuffer.wrap((PythonJson.line(record) + "\n").getBytes(StandardCharsets.UTF_8));
        try {
            while (line.hasRemaining()) {
                channel.write(line);
            }
        } catch (IOException e) {
            throw new Vl4jException(file + ": cannot write metrics (" + e.getMessage() + ")", e);
        }
    }

    /** Appends {@code {"step": step, "loss": loss, "lr": lr, "grad_norm": gradNorm}}. */
    public void step(long step, double loss, double lr, double gradNorm) {
        ObjectNode r = JSON.createObjectNode();
        r.put("step", step).put("loss", loss).put("lr", lr).put("grad_norm", gradNorm);
        write(r);
    }

    /** The records of a metrics file, in order (lines that are not JSON objects are skipped). */
    public static List<JsonNode> read(Path file) {
        List<JsonNode> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                try {
                    JsonNode n = JSON.readTree(line);
                    if (n != null && n.isObject()) {
                        out.add(n);
                    }
                } catch (JacksonException e) {
                    // a note, not a record
                }
            }
        } catch (IOException e) {
            throw new Vl4jException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        return out;
    }

    public Path file() {
        return file;
    }

    @Override
    public synchronized void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new Vl4jException(file + ": cannot close (" + e.getMessage() + ")", e);
        }
    }

    private static void createParent(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
    }
}
