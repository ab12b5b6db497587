package ai.vl4j.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.vl4j.ModelFormatException;
import ai.vl4j.config.JsonErrors;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The DeepSeek byte-level BPE tokenizer of a model folder's {@code tokenizer.json} (spec §5).
 *
 * <p>Encoding runs Hugging Face {@code tokenizers} itself through DJL's binding, with truncation and padding
 * off (DJL would otherwise cut every encoding at 512 tokens). Decoding is done here from the same file's
 * vocabulary: each id maps to the bytes its token stands for, so a stream of ids can be turned into text
 * piece by piece without splitting a UTF-8 character ({@link StreamDecoder}).
 */
public final class Tokenizer implements AutoCloseable {
    public static final String IMAGE_TAG = "<image_placeholder>";

    private final HuggingFaceTokenizer hf;
    private final String[] tokens;        // id -> token string (byte alphabet; added tokens as their content)
    private final byte[][] tokenBytes;    // id -> the bytes it decodes to
    private final boolean[] special;      // id -> skipped by decode(skipSpecial = true)
    private final Map<String, Integer> addedIds = new HashMap<>();
    private final int bosId;
    private final int eosId;

    private Tokenizer(HuggingFaceTokenizer hf, JsonNode json, Path file) {
        this.hf = hf;
        JsonNode vocab = json.path("model").path("vocab");
        JsonNode added = json.path("added_tokens");
        if (!vocab.isObject() || !added.isArray()) {
            throw new ModelFormatException(file + ": expected model.vocab and added_tokens (a byte-level BPE tokenizer.json)");
        }
        int size = 0;
        for (Iterator<JsonNode> it = vocab.elements(); it.hasNext(); ) {
            size = Math.max(size, it.next().asInt() + 1);
        }
        for (JsonNode a : added) {
            size = Math.max(size, a.path("id").asInt() + 1);
        }
        tokens = new String[size];
        tokenBytes = new byte[size][];
        special = new boolean[size];
        vocab.properties().forEach(e -> tokens[e.getValue().asInt()] = e.getKey());
        for (JsonNode a : added) {
            int id = a.path("id").asInt();
            tokens[id] = a.path("content").asText();
            special[id] = a.path("special").asBoolean(false);
            addedIds.put(tokens[id], id);
        }
        for (int id = 0; id < size; id++) {
            tokenBytes[id] = tokens[id] == null ? new byte[0] : ByteLevel.tokenBytes(tokens[id]);
        }
        this.bosId = requireAdded(file, "<｜begin▁of▁sentence｜>");
        this.eosId = requireAdded(file, "<｜end▁of▁sentence｜>");
    }

    private int requireAdded(Path file, String content) {
        Integer id = addedIds.get(content);
        if (id == null) {
            throw new ModelFormatException(file + ": added token " + content + " is missing");
        }
        return id;
    }

    /** Loads tokenizer.json (offline; nothing is downloaded). */
    public static Tokenizer load(Path tokenizerJson) {
        if (!Files.isRegularFile(tokenizerJson)) {
            throw new ModelFormatException(tokenizerJson + ": file not found");
        }
        JsonNode json;
        try {
            json = new ObjectMapper().readTree(tokenizerJson.toFile());
        } catch (JacksonException e) {
            throw new ModelFormatException(tokenizerJson + ": not valid JSON: " + JsonErrors.describe(e), e);
        } catch (IOException e) {
            throw new ModelFormatException(tokenizerJson + ": cannot read (" + e.getMessage() + ")", e);
        }
        HuggingFaceTokenizer hf;
        try {
            hf = HuggingFaceTokenizer.newInstance(tokenizerJson, Map.of(
                    "addSpecialTokens", "true", "truncation", "false", "padding", "false"));
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException(tokenizerJson + ": cannot load tokenizer (" + e.getMessage() + ")", e);
        }
        return new Tokenizer(hf, json, tokenizerJson);
    }

    /** Token ids of text; BOS (100000) first when addBos, never an EOS. */
    public int[] encode(String text, boolean addBos) {
        Encoding enc = hf.encode(text, addBos, false);
        long[] ids = enc.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    /** Text of ids: bytes concatenated, invalid UTF-8 replaced by U+FFFD; special tokens dropped when asked. */
    public String decode(int[] ids, boolean skipSpecial) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int id : ids) {
            if (!(skipSpecial && isSpecial(id))) {
                bytes.writeBytes(bytesOf(id));
            }
        }
        return new String(bytes.toByteArray(), StandardCharsets.UTF_8);
    }

    /** The byte-alphabet string of id ("Ġthe"), or its content for added tokens. */
    public String tokenString(int id) {
        checkId(id);
        return tokens[id];
    }

    /**
     * The bytes id decodes to. Ids without a token (the embedding rows 100016..102399 an untrained or random
     * model may still pick) decode to nothing, as in HF tokenizers.
     */
    public byte[] bytesOf(int id) {
        if (id >= tokens.length) {
            return new byte[0];
        }
        checkId(id);
        return tokenBytes[id];
    }

    public boolean isSpecial(int id) {
        return id >= 0 && id < special.length && special[id];
    }

    /** Id of an added token such as {@code <image_placeholder>}, or -1. */
    public int addedTokenId(String content) {
        return addedIds.getOrDefault(content, -1);
    }

    /** Number of ids with a token (100016 for DeepSeek-VL). */
    public int size() {
        return tokens.length;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    /** A fresh incremental decoder for one generated sequence. */
    public StreamDecoder streamDecoder(boolean skipSpecial) {
        return new StreamDecoder(this, skipSpecial);
    }

    private void checkId(int id) {
        if (id < 0 || id >= tokens.length) {
            throw new IllegalArgumentException("token id " + id + " outside 0.." + (tokens.length - 1));
        }
    }

    @Override
    public void close() {
        hf.close();
    }
}
