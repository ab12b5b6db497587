package ai.vl4j.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.vl4j.ModelFormatException;
import ai.vl4j.config.ConfigNode;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The tokenizer of a CLIP or SigLIP text tower: the folder's {@code tokenizer.json} run by Hugging Face
 * {@code tokenizers} itself (DJL's binding), whatever its model (CLIP's byte-level BPE with {@code </w>}, SigLIP's
 * Unigram), normaliser and post-processor ({@code <|startoftext|>} … {@code <|endoftext|>}, or … {@code </s>}).
 * Truncation and padding of the file are off: the zero-shot pipeline pads by its own rule, which the model
 * families apply ({@link #padId()}, {@link #modelMaxLength()} from {@code tokenizer_config.json}).
 */
public final class TowerTokenizer implements AutoCloseable {
    /** Token ids (special tokens included, unpadded) and their token strings. */
    public record Encoded(int[] ids, List<String> tokens) {
    }

    /** HF's "no limit" sentinel for model_max_length (int(1e30)) and anything like it reads as absent. */
    private static final double NO_LIMIT = 1e9;

    private final HuggingFaceTokenizer hf;
    private final int padId;
    private final int modelMaxLength;

    private TowerTokenizer(HuggingFaceTokenizer hf, int padId, int modelMaxLength) {
        this.hf = hf;
        this.padId = padId;
        this.modelMaxLength = modelMaxLength;
    }

    /** Loads {@code tokenizer.json} and {@code tokenizer_config.json} (pad_token, model_max_length) of a model folder. */
    public static TowerTokenizer load(Path folder) {
        Path file = folder.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new ModelFormatException(file + ": file not found (the text tower's tokenizer is read from tokenizer.json)");
        }
        JsonNode json;
        try {
            json = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(file + ": not a valid tokenizer.json (" + e.getMessage() + ")", e);
        }
        Path configFile = folder.resolve("tokenizer_config.json");
        ConfigNode config = Files.isRegularFile(configFile) ? ConfigNode.load(configFile) : null;
        String padToken = config == null ? null : tokenContent(config, "pad_token");
        int padId = padToken == null ? -1 : idOf(json, padToken);
        if (padToken != null && padId < 0) {
            throw config.error("pad_token", "is " + padToken + ", which " + file + " does not know");
        }
        int maxLength = config != null && config.has("model_max_length") && config.requireDouble("model_max_length") < NO_LIMIT
                ? (int) config.requireDouble("model_max_length") : -1;
        HuggingFaceTokenizer hf;
        try {
            hf = HuggingFaceTokenizer.newInstance(file, Map.of(
                    "addSpecialTokens", "true", "truncation", "false", "padding", "false"));
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException(file + ": cannot load tokenizer (" + e.getMessage() + ")", e);
        }
        return new TowerTokenizer(hf, padId, maxLength);
    }

    /** A special token of tokenizer_config.json: a string, or an AddedToken object with its content. */
    private static String tokenContent(ConfigNode config, String key) {
        if (!config.has(key)) {
            return null;
        }
        return config.isObject(key) ? config.child(key).requireString("content") : config.requireString(key);
    }

    /** The id of token in tokenizer.json: an added token, else the model's vocabulary (an object for BPE, [piece, score] rows for Unigram). */
    private static int idOf(JsonNode json, String token) {
        for (JsonNode added : json.path("added_tokens")) {
            if (token.equals(added.path("content").asText())) {
                return added.path("id").asInt();
            }
        }
        JsonNode vocab = json.path("model").path("vocab");
        if (vocab.isObject()) {
            return vocab.has(token) ? vocab.get(token).asInt() : -1;
        }
        for (int i = 0; i < vocab.size(); i++) {
            if (token.equals(vocab.get(i).path(0).asText())) {
                return i;
            }
        }
        return -1;
    }

    /** Ids of text with the tokenizer's special tokens, unpadded and untruncated. */
    public Encoded encode(String text) {
        Encoding enc = hf.encode(text, true, false);
        long[] ids = enc.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return new Encoded(out, Arrays.asList(enc.getTokens()));
    }

    /** The pad token's id (tokenizer_config.json's pad_token), or -1 when it names none. */
    public int padId() {
        return padId;
    }

    /** tokenizer_config.json's model_max_length, or -1 when absent (or HF's "no limit"). */
    public int modelMaxLength() {
        return modelMaxLength;
    }

    @Override
    public void close() {
        hf.close();
    }
}
