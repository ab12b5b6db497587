package ai.vl4j;

/**
 * What a model load reports as it goes, for progress displays: the stage ("mapping weights", "quantizing
 * language model") and how many of its steps (files, layers) are done.
 */
@FunctionalInterface
public interface LoadProgress {
    void update(String stage, int done, int total);

    LoadProgress NONE = (stage, done, total) -> { };
}
