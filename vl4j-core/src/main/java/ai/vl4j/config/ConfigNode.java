package ai.vl4j.config;

import ai.vl4j.ModelFormatException;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A JSON object of a config file that knows where it came from, so every error names the file and the full
 * key, e.g. {@code config.json: language_config.num_hidden_layers must be an integer}.
 */
public final class ConfigNode {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String file;
    private final String path;
    private final JsonNode node;

    private ConfigNode(String file, String path, JsonNode node) {
        this.file = file;
        this.path = path;
        this.node = node;
    }

    /** Reads a JSON config file whose top level must be an object. */
    public static ConfigNode load(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(file + ": file not found");
        } catch (JacksonException e) {
            throw new ModelFormatException(file + ": not valid JSON: " + JsonErrors.describe(e), e);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(file + ": expected a JSON object");
        }
        return new ConfigNode(file.toString(), "", root);
    }

    /** Wraps an already parsed object (tests, synthetic configs). */
    public static ConfigNode of(String file, JsonNode node) {
        return new ConfigNode(file, "", node);
    }

    public boolean has(String key) {
        JsonNode v = node.get(key);
        return v != null && !v.isNull();
    }

    /** True when key holds an object (HF configs spell some fields as a number or an object). */
    public boolean isObject(String key) {
        return has(key) && node.get(key).isObject();
    }

    /** A required nested object. */
    public ConfigNode child(String key) {
        JsonNode v = require(key);
        if (!v.isObject()) {
            throw error(key, "must be an object");
        }
        return new ConfigNode(file, qualified(key), v);
    }

    /** A nested object, or null when the key is absent. */
    public ConfigNode optChild(String key) {
        return has(key) ? child(key) : null;
    }

    public int requireInt(String key) {
        JsonNode v = require(key);
        if (!v.canConvertToInt() || !v.isIntegralNumber()) {
            throw error(key, "must be an integer, got " + v);
        }
        return v.intValue();
    }

    public int optInt(String key, int fallback) {
        return has(key) ? requireInt(key) : fallback;
    }

    public double requireDouble(String key) {
        JsonNode v = require(key);
        if (!v.isNumber()) {
            throw error(key, "must be a number, got " + v);
        }
        return v.doubleValue();
    }

    public double optDouble(String key, double fallback) {
        return has(key) ? requireDouble(key) : fallback;
    }

    public String requireString(String key) {
        JsonNode v = require(key);
        if (!v.isTextual()) {
            throw error(key, "must be a string, got " + v);
        }
        return v.textValue();
    }

    public String optString(String key, String fallback) {
        return has(key) ? requireString(key) : fallback;
    }

    public boolean optBoolean(String key, boolean fallback) {
        if (!has(key)) {
            return fallback;
        }
        JsonNode v = node.get(key);
        if (!v.isBoolean()) {
            throw error(key, "must be true or false, got " + v);
        }
        return v.booleanValue();
    }

    /** A required array of numbers of the given length (length < 0: any). */
    public double[] requireDoubles(String key, int length) {
        JsonNode v = require(key);
        if (!v.isArray() || (length >= 0 && v.size() != length)) {
            throw error(key, "must be an array of " + (length >= 0 ? length + " " : "") + "numbers, got " + v);
        }
        double[] out = new double[v.size()];
        for (int i = 0; i < out.length; i++) {
            if (!v.get(i).isNumber()) {
                throw error(key, "must be an array of numbers, got " + v);
            }
            out[i] = v.get(i).doubleValue();
        }
        return out;
    }

    public double[] optDoubles(String key, int length) {
        return has(key) ? requireDoubles(key, length) : null;
    }

    public int[] optInts(String key) {
        if (!has(key)) {
            return null;
        }
        double[] values = requireDoubles(key, -1);
        int[] out = new int[values.length];
        for (int i = 0; i < out.length; i++) {
            if (values[i] != Math.rint(values[i])) {
                throw error(key, "must be an array of integers");
            }
            out[i] = (int) values[i];
        }
        return out;
    }

    /** An error about key in this object, naming file and full key. */
    public ModelFormatException error(String key, String problem) {
        return new ModelFormatException(file + ": " + qualified(key) + " " + problem);
    }

    private JsonNode require(String key) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            throw error(key, "is missing");
        }
        return v;
    }

    private String qualified(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }
}
