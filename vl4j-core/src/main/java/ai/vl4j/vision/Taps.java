package ai.vl4j.vision;

/** Receives named intermediate activations of a tower (for tests that compare them with reference dumps). */
@FunctionalInterface
public interface Taps {
    void tap(String name, float[] values);

    Taps NONE = (name, values) -> { };
}
