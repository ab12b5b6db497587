package ai.vl4j.cli;

import ai.vl4j.InvalidInputException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The requests of a {@code vl4j batch} input, in a fixed order: a folder's image files (recursively, sorted by
 * their path relative to the folder, which is also their id), or the lines of a JSONL file (blank lines skipped;
 * the id is the line's {@code id} field, else {@code line-N}). A line that is not a JSON object still counts as a
 * request, one whose problem becomes its result's error. The requests are read lazily, so a file of a million
 * lines (with data URIs inside, say) is never held in memory.
 */
final class BatchInput {
    /** Extensions of the files a folder input takes as images; other files are skipped (and counted). */
    static final Set<String> IMAGE_EXTENSIONS = Set.of("png", "jpg", "jpeg", "bmp", "gif", "webp");
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One request as read, not yet prepared.
     *
     * @param position its place in the input (0-based), which decides its shard
     * @param id       unique within the input: the image's relative path, or the line's id
     * @param where    where it came from, for messages ("requests.jsonl line 7", a file path)
     * @param image    folder input: the image file; else null
     * @param json     JSONL input: the line's object; else null
     * @param problem  a line that could not be read as a request: why (its result is this error); else null
     */
    record Request(int position, String id, String where, Path image, JsonNode json, String problem) {
    }

    /**
     * Which requests this machine takes: those whose position p has p % count == index - 1.
     *
     * @param index 1..count
     */
    record Shard(int index, int count) {
        static final Shard ALL = new Shard(1, 1);

        /** {@code I/N} with {@code 1 <= I <= N}. */
        static Shard parse(String text) {
            if (text == null) {
                return ALL;
            }
            String[] parts = text.split("/", -1);
            try {
                if (parts.length == 2) {
                    int i = Integer.parseInt(parts[0].trim());
                    int n = Integer.parseInt(parts[1].trim());
                    if (n >= 1 && i >= 1 && i <= n) {
                        return new Shard(i, n);
                    }
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException("--shard takes I/N with 1 <= I <= N (e.g. 1/4 ... 4/4), got '" + text + "'");
        }

        boolean takes(int position) {
            return position % count == index - 1;
        }
    }

    private final Path path;
    private final boolean folder;
    private int skippedFiles;

    private BatchInput(Path path, boolean folder) {
        this.path = path;
        this.folder = folder;
    }

    /** A folder of images or a JSONL file of requests. */
    static BatchInput open(Path path) {
        if (Files.isDirectory(path)) {
            return new BatchInput(path, true);
        }
        if (!Files.isRegularFile(path)) {
            throw new InvalidInputException(path + ": no such folder or file (--input takes a folder of images or a JSONL file)");
        }
        return new BatchInput(path, false);
    }

    boolean folder() {
        return folder;
    }

    /** The folder, or the JSONL file's folder: where relative image paths are resolved. */
    Path base() {
        Path parent = path.toAbsolutePath().getParent();
        return folder ? path : parent;
    }

    /** Files of a folder input that were not taken as images (by extension), as of the last pass. */
    int skippedFiles() {
        return skippedFiles;
    }

    /** Hands every request of the input to action, in order. */
    void forEach(Consumer<Request> action) {
        if (folder) {
            forEachImage(action);
        } else {
            forEachLine(action);
        }
    }

    private void forEachImage(Consumer<Request> action) {
        List<Path> files = new ArrayList<>();
        int skipped = 0;
        try (Stream<Path> walk = Files.walk(path)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                if (!Files.isRegularFile(p)) {
                    continue;
                }
                if (IMAGE_EXTENSIONS.contains(extension(p))) {
                    files.add(p);
                } else {
                    skipped++;
                }
            }
        } catch (IOException | UncheckedIOException e) {
            throw new InvalidInputException(path + ": cannot list the folder (" + e.getMessage() + ")");
        }
        skippedFiles = skipped;
        List<Map.Entry<String, Path>> images = new ArrayList<>(files.size());
        for (Path f : files) {
            images.add(Map.entry(id(f), f));
        }
        images.sort(Map.Entry.comparingByKey());
        for (int position = 0; position < images.size(); position++) {
            Path f = images.get(position).getValue();
            action.accept(new Request(position, images.get(position).getKey(), f.toString(), f, null, null));
        }
    }

    /** A file's path relative to the folder, with '/' between names on every system. */
    private String id(Path file) {
        Path rel = path.relativize(file);
        List<String> names = new ArrayList<>();
        rel.forEach(n -> names.add(n.toString()));
        return String.join("/", names);
    }

    private static String extension(Path p) {
        String name = p.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
    }

    private void forEachLine(Consumer<Request> action) {
        String name = path.getFileName().toString();
        try (BufferedReader reader = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            int lineNumber = 0;
            int position = 0;
            String line;
            while ((line = reader.readLine()) != null) {
                lineNumber++;
                if (line.isBlank()) {
                    continue;
                }
                action.accept(request(position++, lineNumber, name + " line " + lineNumber, line));
            }
        } catch (java.nio.charset.MalformedInputException e) {
            throw new InvalidInputException(path + ": not UTF-8 text");
        } catch (IOException e) {
            throw new InvalidInputException(path + ": cannot read (" + e.getMessage() + ")");
        }
    }

    private static Request request(int position, int lineNumber, String where, String line) {
        String fallbackId = "line-" + lineNumber;
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            return new Request(position, fallbackId, where, null, null, "not valid JSON: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) {
            return new Request(position, fallbackId, where, null, null, "a request must be a JSON object");
        }
        JsonNode id = node.get("id");
        if (id == null || id.isNull()) {
            return new Request(position, fallbackId, where, null, node, null);
        }
        if (id.isTextual() && !id.asText().isEmpty() || id.isIntegralNumber()) {
            return new Request(position, id.asText(), where, null, node, null);
        }
        return new Request(position, fallbackId, where, null, null, "id must be a non-empty string or an integer, got " + id);
    }
}
