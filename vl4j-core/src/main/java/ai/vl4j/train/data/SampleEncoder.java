package ai.vl4j.train.data;

import ai.vl4j.InvalidInputException;
import ai.vl4j.image.ImageProcessor;
import ai.vl4j.text.ChatTemplate;
import ai.vl4j.text.Message;
import ai.vl4j.text.Role;
import ai.vl4j.text.Tokenizer;
import ai.vl4j.train.data.TrainingSample.ImageSpan;
import ai.vl4j.train.data.TrainingSample.Segment;
import ai.vl4j.vlm.ModelConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns a {@link JsonlRecord} into a {@link TrainingSample}: the tokenization and label masking of fixture
 * README §3, for one model (its tokenizer, {@code num_image_tokens}, image processor and context length).
 *
 * <pre>
 *   TEXT, CAPTION:  [BOS] + encode(text) + [EOS]                     every token but BOS supervised
 *   SFT:            [BOS] + encode(P1) + encode(A1) + encode(P2) + ... each segment tokenized on its own
 *     P1 = SYSTEM + "\n\n" + "User: " + u1 + "\n\n" + "Assistant:"   masked
 *     Ak = " " + ak + "&lt;｜end▁of▁sentence｜&gt;"                           supervised (the answer and its EOS)
 *     Pk = "User: " + uk + "\n\n" + "Assistant:"      (k &gt;= 2)     masked
 *   then every placeholder id becomes numImageTokens copies (labels -100 there and at BOS).
 * </pre>
 * {@code encode} is the tokenizer without BOS; contents are {@code strip()}ped as the deepseek template does,
 * and P1 + A1 + P2 + ... is exactly {@code ChatTemplate.render} of the conversation with the answers filled
 * in. Thread-safe.
 */
public final class SampleEncoder implements AutoCloseable {
    private static final String SEP = "\n\n";

    private final Tokenizer tokenizer;
    private final boolean ownsTokenizer;
    private final JsonlParser parser;
    private final ImageProcessor imageProcessor;
    private final String systemPrompt;
    private final int numImageTokens;
    private final int imageId;
    private final int contextLength;
    private final String contextOrigin;

    /**
     * An encoder for a model, with the deepseek template's system prompt and the model's whole context
     * ({@code max_position_embeddings}).
     */
    public SampleEncoder(Tokenizer tokenizer, ModelConfig config) {
        this(tokenizer, config, ChatTemplate.DEFAULT_SYSTEM_PROMPT, 0);
    }

    /**
     * @param systemPrompt  the SFT system prompt (empty: none, as the template does)
     * @param contextLength the longest sample accepted, at most the model's {@code max_position_embeddings};
     *                      0 for exactly that
     */
    public SampleEncoder(Tokenizer tokenizer, ModelConfig config, String systemPrompt, int contextLength) {
        this(tokenizer, false, config, systemPrompt, contextLength);
    }

    private SampleEncoder(Tokenizer tokenizer, boolean ownsTokenizer, ModelConfig config, String systemPrompt, int contextLength) {
        int modelContext = config.language().maxPositions();
        if (contextLength < 0 || contextLength > modelContext) {
            throw new InvalidInputException("context length " + contextLength + " is outside 1.." + modelContext
                    + " (the model's max_position_embeddings)");
        }
        String tag = config.chatProcessor().imageTag();
        this.tokenizer = tokenizer;
        this.ownsTokenizer = ownsTokenizer;
        this.parser = new JsonlParser(tag);
        this.imageProcessor = new ImageProcessor(config.imageProcessor());
        this.systemPrompt = systemPrompt == null ? "" : systemPrompt;
        this.numImageTokens = config.chatProcessor().numImageTokens();
        this.imageId = tokenizer.addedTokenId(tag);
        this.contextLength = contextLength == 0 ? modelContext : contextLength;
        this.contextOrigin = contextLength == 0 ? "the model's max_position_embeddings" : "the given context length";
        if (imageId < 0) {
            throw new InvalidInputException("the tokenizer has no added token " + tag);
        }
    }

    /** An encoder for a model folder (config.json, processor configs, tokenizer.json); closing it frees the tokenizer. */
    public static SampleEncoder load(Path modelDir) {
        return load(modelDir, ChatTemplate.DEFAULT_SYSTEM_PROMPT, 0);
    }

    /** As {@link #load(Path)} with a system prompt and context length (0: the model's). */
    public static SampleEncoder load(Path modelDir, String systemPrompt, int contextLength) {
        ModelConfig config = ModelConfig.load(modelDir);
        Tokenizer tokenizer = Tokenizer.load(modelDir.resolve("tokenizer.json"));
        try {
            return new SampleEncoder(tokenizer, true, config, systemPrompt, contextLength);
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    /** The parser of this model's JSONL lines (its image tag). */
    public JsonlParser parser() {
        return parser;
    }

    /** The longest sample accepted, in tokens (images counted at numImageTokens each). */
    public int contextLength() {
        return contextLength;
    }

    /** Ids per image ({@code num_image_tokens} of processor_config.json). */
    public int numImageTokens() {
        return numImageTokens;
    }

    public ImageProcessor imageProcessor() {
        return imageProcessor;
    }

    /** Tokenizes a record and builds its labels; a sample longer than the context is a {@link BadSampleException}. */
    public TrainingSample encode(JsonlRecord r) {
        List<Segment> segments = r.kind() == SampleKind.SFT
                ? sftSegments(r.conversation())
                : List.of(new Segment(r.text(), true));

        // [BOS] + encode(segment) for each segment (+ [EOS] for text), and whether each id is supervised
        boolean text = r.kind() != SampleKind.SFT;
        int[][] pieces = new int[segments.size()][];
        int n = text ? 2 : 1;
        for (int i = 0; i < pieces.length; i++) {
            pieces[i] = tokenizer.encode(segments.get(i).text(), false);
            n += pieces[i].length;
        }
        int[] tokenizerIds = new int[n];
        boolean[] supervised = new boolean[n];
        tokenizerIds[0] = tokenizer.bosId();
        int o = 1;
        for (int i = 0; i < pieces.length; i++) {
            System.arraycopy(pieces[i], 0, tokenizerIds, o, pieces[i].length);
            Arrays.fill(supervised, o, o + pieces[i].length, segments.get(i).supervised());
            o += pieces[i].length;
        }
        if (text) {
            tokenizerIds[o] = tokenizer.eosId();
            supervised[o] = true;
        }

        int tags = 0;
        for (int id : tokenizerIds) {
            if (id == imageId) {
                tags++;
            }
        }
        if (tags != r.images().size()) {
            // the parser counted the tag strings; the tokenizer splits added tokens out the same way
            throw new BadSampleException(r.source(), "images", r.images().size() + " images but the tokenizer found " + tags
                    + " placeholder tokens");
        }
        long length = tokenizerIds.length + (long) tags * (numImageTokens - 1);
        if (length > contextLength) {
            throw new BadSampleException(r.source(), null, "the sample is " + length + " tokens (" + tags + " image"
                    + (tags == 1 ? "" : "s") + " at " + numImageTokens + " each), longer than the context of "
                    + contextLength + " (" + contextOrigin + ")");
        }

        // expand each placeholder to numImageTokens positions; labels -100 at BOS, images, masked segments
        int[] inputIds = new int[(int) length];
        int[] labels = new int[(int) length];
        List<ImageSpan> spans = new ArrayList<>();
        int t = 0;
        for (int i = 0; i < tokenizerIds.length; i++) {
            int id = tokenizerIds[i];
            if (id == imageId) {
                Arrays.fill(inputIds, t, t + numImageTokens, imageId);
                Arrays.fill(labels, t, t + numImageTokens, TrainingSample.IGNORE);
                spans.add(new ImageSpan(t, t + numImageTokens));
                t += numImageTokens;
            } else {
                inputIds[t] = id;
                labels[t] = supervised[i] ? id : TrainingSample.IGNORE;
                t++;
            }
        }
        return new TrainingSample(r.source(), r.kind(), segments, tokenizerIds, inputIds, labels, spans, r.images(), imageProcessor);
    }

    /**
     * The deepseek template cut at each answer: P1 = [system + "\n\n"] + "User: " + u1 + "\n\n" + "Assistant:",
     * Ak = " " + ak + EOS, Pk = "User: " + uk + "\n\n" + "Assistant:". Contents stripped; P1 left-stripped as the
     * template strips the whole prompt (it only matters for a system prompt that starts with white space).
     */
    private List<Segment> sftSegments(List<Message> turns) {
        List<Segment> out = new ArrayList<>();
        for (int k = 0; k < turns.size(); k += 2) {
            String user = ChatTemplate.pythonStrip(turns.get(k).content());
            String answer = ChatTemplate.pythonStrip(turns.get(k + 1).content());
            String prompt = Role.USER.label + ": " + user + SEP + Role.ASSISTANT.label + ":";
            if (k == 0) {
                prompt = ChatTemplate.pythonStrip(systemPrompt.isEmpty() ? prompt : systemPrompt + SEP + prompt);
            }
            out.add(new Segment(prompt, false));
            out.add(new Segment(" " + answer + ChatTemplate.EOS_TEXT, true));
        }
        return out;
    }

    @Override
    public void close() {
        if (ownsTokenizer) {
            tokenizer.close();
        }
    }
}
