package ai.vl4j.train.data;

import java.nio.file.Path;

/**
 * Where a sample comes from: its JSONL file (as the caller named it) and its 1-based physical line number
 * (blank lines count). Prints as {@code file:line}, the prefix of every error about the sample.
 */
public record SampleSource(Path file, int line) {
    @Override
    public String toString() {
        return file + ":" + line;
    }
}
