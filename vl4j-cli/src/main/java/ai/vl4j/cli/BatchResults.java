package ai.vl4j.cli;

import ai.vl4j.InvalidInputException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The results file of {@code vl4j batch}: one JSON object per line, appended as each request finishes, each line
 * written whole with one write call (so a killed job leaves at most one cut-off line, at the end). Opening it reads
 * the ids already finished, so a re-run skips them; a cut-off last line (no newline: the job was killed while
 * writing it) is cut away first, and its request runs again. A lock on the file keeps a second job from writing it
 * at the same time.
 */
final class BatchResults implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;
    private final Set<String> finished;
    private final long cutBytes;

    private BatchResults(Path path, FileChannel channel, FileLock lock, Set<String> finished, long cutBytes) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
        this.finished = finished;
        this.cutBytes = cutBytes;
    }

    /** Opens (or creates) the results file, reading the ids it holds. */
    static BatchResults open(Path path) {
        if (Files.isDirectory(path)) {
            throw new InvalidInputException(path + ": --out is a folder; give the results file (e.g. results.jsonl)");
        }
        FileChannel channel = null;
        try {
            Path parent = path.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new InvalidInputException(path + ": another vl4j batch job is writing this file");
            }
            long size = channel.size();
            long complete = endOfLastLine(channel, size);
            Set<String> finished = readIds(path, channel, complete);
            if (complete < size) {
                channel.truncate(complete);
            }
            channel.position(complete);
            return new BatchResults(path, channel, lock, finished, size - complete);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new InvalidInputException(path + ": cannot open the results file (" + e.getMessage() + ")");
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    /** The ids of the requests already in the file. */
    Set<String> finished() {
        return finished;
    }

    /** Bytes of a cut-off last line that opening the file removed (0 when it ended cleanly). */
    long cutBytes() {
        return cutBytes;
    }

    /** Appends one result line and hands it to the operating system before returning. */
    synchronized void append(Map<String, Object> result) {
        try {
            ByteBuffer line = ByteBuffer.wrap((JSON.writeValueAsString(result) + "\n").getBytes(StandardCharsets.UTF_8));
            while (line.hasRemaining()) {
                channel.write(line);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": cannot write a result", e);
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException e) {
            // closing the channel releases it too
        }
        closeQuietly(channel);
    }

    /** Length of the file up to and including its last newline. */
    private static long endOfLastLine(FileChannel channel, long size) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(8192);
        long end = size;
        while (end > 0) {
            long start = Math.max(0, end - buf.capacity());
            buf.clear().limit((int) (end - start));
            channel.read(buf, start);
            for (int i = buf.position() - 1; i >= 0; i--) {
                if (buf.get(i) == '\n') {
                    return start + i + 1;
                }
            }
            end = start;
        }
        return 0;
    }

    private static Set<String> readIds(Path path, FileChannel channel, long length) throws IOException {
        Set<String> ids = new HashSet<>();
        channel.position(0);
        BufferedReader reader = new BufferedReader(new InputStreamReader(
                Channels.newInputStream(channel), StandardCharsets.UTF_8.newDecoder()));
        long read = 0;
        int lineNumber = 0;
        String line;
        while (read < length && (line = reader.readLine()) != null) {
            lineNumber++;
            read += line.getBytes(StandardCharsets.UTF_8).length + 1;
            if (line.isBlank()) {
                continue;
            }
            JsonNode node;
            try {
                node = JSON.readTree(line);
            } catch (JsonProcessingException e) {
                node = null;
            }
            JsonNode id = node == null ? null : node.get("id");
            if (id == null || !id.isTextual()) {
                throw new InvalidInputException(path + " line " + lineNumber
                        + ": not a result line of vl4j batch (a JSON object with an \"id\"); give another --out file");
            }
            ids.add(id.asText());
        }
        return ids;
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                // nothing more to do
            }
        }
    }
}
