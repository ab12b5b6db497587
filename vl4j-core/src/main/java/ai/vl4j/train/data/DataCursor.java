package ai.vl4j.train.data;

import ai.vl4j.InvalidInputException;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Where a {@link DataLoader} stands, enough to continue exactly (exact resume): the draws taken from each
 * source. The random state is part of it: orders and the mixer's choices are counter-based
 * ({@link SplitMix}), so the counts are the whole state; the epoch and the position in it follow from them.
 * The remaining fields say what the counts are about and are checked on restore.
 *
 * @param seed        the loader's seed
 * @param shuffle     whether epochs are shuffled (else file order)
 * @param textRatio   the mixer's text share (0 without a text source)
 * @param samples     size of the main data
 * @param textSamples size of the text-only data (0 without one)
 * @param drawn       samples taken from the main data so far
 * @param textDrawn   samples taken from the text-only data so far
 */
public record DataCursor(long seed, boolean shuffle, double textRatio, int samples, int textSamples, long drawn, long textDrawn) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The main data's epoch (0-based) of the next sample. */
    public long epoch() {
        return drawn / samples;
    }

    /** The position of the next sample within the main data's epoch. */
    public int position() {
        return (int) (drawn % samples);
    }

    /** The text-only data's epoch of its next sample (0 without one). */
    public long textEpoch() {
        return textSamples == 0 ? 0 : textDrawn / textSamples;
    }

    /** One JSON object, e.g. to keep beside a checkpoint; epoch and position are included for people to read. */
    public String toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("seed", seed).put("shuffle", shuffle).put("text_ratio", textRatio)
                .put("samples", samples).put("text_samples", textSamples)
                .put("drawn", drawn).put("text_drawn", textDrawn)
                .put("epoch", epoch()).put("position", position());
        return o.toString();
    }

    /** Reads {@link #toJson()}'s object; {@code what} names its origin in errors (a file, a checkpoint). */
    public static DataCursor fromJson(String json, String what) {
        JsonNode o;
        try {
            o = JSON.readTree(json);
        } catch (JacksonException e) {
            throw new InvalidInputException(what + ": not a data cursor (" + e.getOriginalMessage() + ")", e);
        }
        if (o == null || !o.isObject()) {
            throw new InvalidInputException(what + ": a data cursor is a JSON object");
        }
        return new DataCursor(require(o, "seed", what).asLong(), require(o, "shuffle", what).asBoolean(),
                require(o, "text_ratio", what).asDouble(), require(o, "samples", what).asInt(),
                require(o, "text_samples", what).asInt(), require(o, "drawn", what).asLong(),
                require(o, "text_drawn", what).asLong());
    }

    private static JsonNode require(JsonNode o, String key, String what) {
        JsonNode v = o.get(key);
        if (v == null || !(v.isNumber() || v.isBoolean())) {
            throw new InvalidInputException(what + ": data cursor field " + key + " is missing or not a number");
        }
        return v;
    }
}
