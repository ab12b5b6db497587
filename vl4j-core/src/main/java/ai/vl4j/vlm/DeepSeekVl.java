package ai.vl4j.vlm;

import ai.vl4j.InvalidInputException;
import ai.vl4j.LoadProgress;
import ai.vl4j.generate.GenerationResult;
import ai.vl4j.generate.Generator;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.generate.TokenListener;
import ai.vl4j.image.ImageProcessor;
import ai.vl4j.image.RgbImage;
import ai.vl4j.llm.KvCache;
import ai.vl4j.llm.LlamaModel;
import ai.vl4j.nn.Module;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.text.ChatTemplate;
import ai.vl4j.text.Message;
import ai.vl4j.text.Tokenizer;
import ai.vl4j.vision.HybridVisionTower;
import ai.vl4j.vision.SigLipVit;
import ai.vl4j.vision.VisionTower;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * DeepSeek-VL ({@code MultiModalityCausalLM}): image processor, vision tower, aligner and LLaMA decoder of one
 * model folder, and the generation loop that ties them together. This is the public entry point:
 *
 * <pre>{@code
 * try (DeepSeekVl vl = DeepSeekVl.load(Path.of("deepseek-vl-1.3b-chat"))) {
 *     RgbImage image = ImageLoader.load(Path.of("dog.jpg"));
 *     GenerationResult r = vl.generate(List.of(Message.user("Describe this image.", image)),
 *             SamplingOptions.GREEDY, (id, text) -> System.out.print(text));
 * }
 * }</pre>
 *
 * A loaded model holds no per-request state: several threads may generate at once.
 */
public final class DeepSeekVl implements AutoCloseable, Module {
    /** Weight prefix of the 1.3B single tower (CLIPVisionTower.vision_tower). */
    public static final String CLIP_TOWER_PREFIX = "vision_model.vision_tower.";

    private final Path folder;
    private final ModelConfig config;
    private final Weights weights;
    private final Tokenizer tokenizer;
    private final PromptBuilder promptBuilder;
    private final ImageProcessor imageProcessor;
    private final VisionTower vision;
    private final MlpAligner aligner;
    private final LlamaModel llm;
    private final Arena quantized;   // load-time quantized weights live here (packed panels have their own)
    private final DType kvCache;     // precision of the KV caches made for requests: F32 or BF16

    private DeepSeekVl(Path folder, ModelConfig config, Weights weights, Tokenizer tokenizer, QuantType quant, Arena quantized,
                       DType kvCache, LoadProgress progress) {
        this.folder = folder;
        this.kvCache = kvCache;
        this.config = config;
        this.weights = weights;
        this.tokenizer = tokenizer;
        this.promptBuilder = new PromptBuilder(tokenizer, config.chatProcessor());
        this.imageProcessor = new ImageProcessor(config.imageProcessor());
        this.vision = config.hybrid() ? new HybridVisionTower(config.sam(), config.siglip(), weights)
                : new SigLipVit(config.siglip(), weights, CLIP_TOWER_PREFIX);
        this.aligner = new MlpAligner(config.aligner(), weights);
        this.quantized = quantized;
        this.llm = new LlamaModel(config.language(), weights, quant, quantized, progress);
    }

    /** Loads a model folder laid out as the official Hugging Face repositories. */
    public static DeepSeekVl load(Path folder) {
        return load(folder, null);
    }

    /**
     * Loads a model folder, quantizing the language model's linear weights to quant at load time (null: use the
     * weights as stored, dense or already quantized by {@code vl4j quantize}).
     */
    public static DeepSeekVl load(Path folder, QuantType quant) {
        return load(folder, quant, LoadProgress.NONE);
    }

    /** As above, reporting the load's stages (mapping the weight files, building or quantizing the layers). */
    public static DeepSeekVl load(Path folder, QuantType quant, LoadProgress progress) {
        return load(folder, quant, DType.F32, progress);
    }

    /**
     * As above, with the precision of the KV caches this model makes for its requests: F32 (exact) or BF16 (half
     * the memory and the cache reads of each decode step; see {@link KvCache}).
     */
    public static DeepSeekVl load(Path folder, QuantType quant, DType kvCache, LoadProgress progress) {
        if (kvCache != DType.F32 && kvCache != DType.BF16) {
            throw new IllegalArgumentException("KV cache precision " + kvCache + ": use F32 or BF16");
        }
        if (!Files.isDirectory(folder)) {
            throw new InvalidInputException(folder + ": model folder not found");
        }
        ModelConfig config = ModelConfig.load(folder);
        Tokenizer tokenizer = Tokenizer.load(folder.resolve("tokenizer.json"));
        Weights weights = null;
        Arena quantized = Arena.ofShared();
        try {
            weights = Weights.open(folder, progress);
            return new DeepSeekVl(folder, config, weights, tokenizer, quant, quantized, kvCache, progress);
        } catch (RuntimeException e) {
            if (weights != null) {
                weights.close();
            }
            quantized.close();
            tokenizer.close();
            throw e;
        }
    }

    public Path folder() {
        return folder;
    }

    public ModelConfig config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public LlamaModel languageModel() {
        return llm;
    }

    public MlpAligner aligner() {
        return aligner;
    }

    /**
     * Every parameter a training stage may train or freeze, under its checkpoint name: the SigLIP tower's (7B: the
     * low-resolution tower's; not its unused attn_pool head), the aligner's, the language model's.
     */
    @Override
    public List<Module> children() {
        return List.of(vision, aligner, llm);
    }

    /** Precision of the KV caches this model makes for requests (F32 or BF16). */
    public DType kvCachePrecision() {
        return kvCache;
    }

    /** The model folder's tensors (memory-mapped). */
    public Weights weights() {
        return weights;
    }

    /** Templates and tokenizes a conversation with the default system prompt. */
    public Prompt prompt(List<Message> messages) {
        return prompt(messages, ChatTemplate.DEFAULT_SYSTEM_PROMPT);
    }

    /** Templates and tokenizes a conversation with the given system prompt ("" for none). */
    public Prompt prompt(List<Message> messages, String systemPrompt) {
        return promptBuilder.build(messages, systemPrompt);
    }

    /** Processor output for an image: [3, S, S] in [0, 1]. */
    public float[] preprocess(RgbImage image) {
        return imageProcessor.preprocess(image);
    }

    /** The LLM input rows of one image: aligner(tower(pixels)) [numImageTokens, H]. */
    public float[] embedImage(float[] pixels) {
        return align(vision.features(pixels));
    }

    /** The aligner on a tower's feature maps: [numImageTokens, H]. */
    public float[] align(float[][] features) {
        return aligner.forward(features, vision.numTokens());
    }

    /** The vision tower (SigLipVit for 1.3B, HybridVisionTower for 7B). */
    public VisionTower visionTower() {
        return vision;
    }

    /** Vision features of preprocessed pixels (one map for 1.3B, SAM then SigLIP for 7B). */
    public float[][] visionFeatures(float[] pixels) {
        return vision.features(pixels);
    }

    /** Embeds the prompt's ids and overwrites each image span with that image's embedding rows: [T, H]. */
    public float[] inputEmbeddings(Prompt prompt, Map<String, Double> timings) {
        return inputEmbeddings(prompt, 0, timings, TokenListener.NONE);
    }

    /** Rows [from, T) of the input embeddings: the images whose spans start before from are not encoded. */
    private float[] inputEmbeddings(Prompt prompt, int from, Map<String, Double> timings, TokenListener listener) {
        int h = config.language().hiddenSize();
        int[] ids = prompt.inputIds();
        float[] x = llm.embed(from == 0 ? ids : java.util.Arrays.copyOfRange(ids, from, ids.length));
        int encoded = 0;
        for (int i = 0; i < prompt.images().size(); i++) {
            if (prompt.imageStarts()[i] < from) {
                continue;                       // its rows are in the KV cache already
            }
            long t0 = System.nanoTime();
            float[] pixels = preprocess(prompt.images().get(i));
            long t1 = System.nanoTime();
            float[][] features = vision.features(pixels);
            long t2 = System.nanoTime();
            float[] rows = align(features);
            long t3 = System.nanoTime();
            System.arraycopy(rows, 0, x, (prompt.imageStarts()[i] - from) * h, rows.length);
            timings.merge("preprocess_s", (t1 - t0) / 1e9, Double::sum);
            timings.merge("vision_s", (t2 - t1) / 1e9, Double::sum);
            timings.merge("aligner_s", (t3 - t2) / 1e9, Double::sum);
            encoded++;
            listener.onStage("image " + encoded + " encoded", (t3 - t0) / 1e9);
        }
        return x;
    }

    /**
     * Answers the last user turn of a conversation. Tokens are passed to listener as they are generated.
     *
     * @throws InvalidInputException when images and placeholders do not pair up or the prompt does not fit the
     *                               context window
     */
    public GenerationResult generate(List<Message> messages, SamplingOptions options, TokenListener listener) {
        return generate(prompt(messages), options, listener);
    }

    public GenerationResult generate(Prompt prompt, SamplingOptions options, TokenListener listener) {
        return generate(prompt, options, listener, null);
    }

    /**
     * As above, continuing a conversation: the leading ids of prompt whose keys and values state already holds
     * (the earlier turns) are not run again, and state keeps this turn's for the next (null: nothing kept).
     */
    public GenerationResult generate(Prompt prompt, SamplingOptions options, TokenListener listener, ChatState state) {
        long start = System.nanoTime();
        Prefilled p = prefill(prompt, options.maxNewTokens(), state, listener);
        KvCache cache = p.cache();
        Generator.Outcome out = Generator.run(p.logits(), id -> llm.decodeStep(id, cache),
                tokenizer.eosId(), p.budget(), options, tokenizer.streamDecoder(true), listener);
        long end = System.nanoTime();
        long firstToken = out.firstTokenNanos();
        int count = out.tokenIds().length;

        Map<String, Double> timings = p.timings();
        double decode = (end - firstToken) / 1e9;
        timings.put("decode_s", decode);
        timings.put("ttft_s", (firstToken - start) / 1e9);
        timings.put("total_s", (end - start) / 1e9);
        if (state != null) {
            timings.put("cached_prompt_tokens", (double) p.reused());
            state.remember(cache, prompt, out.tokenIds());
        }
        timings.put("decode_tok_s", count > 1 ? (count - 1) / Math.max(decode, 1e-9) : 0.0);
        return new GenerationResult(prompt.inputIds().length, out.tokenIds(), out.text(), out.finishReason(), timings);
    }

    /**
     * A prompt run into a KV cache, where decoding starts.
     *
     * @param cache   the cache, holding the prompt, with room for budget more tokens
     * @param logits  the logits of the position after the prompt
     * @param budget  the tokens that may be generated: the asked number, clipped to the context
     * @param reused  leading prompt ids taken from a conversation's cache instead of being run
     * @param timings seconds per stage so far (preprocess_s, vision_s, aligner_s, prefill_s, prefill_tok_s)
     */
    public record Prefilled(KvCache cache, float[] logits, int budget, int reused, Map<String, Double> timings) {
    }

    /**
     * Encodes the prompt's images and runs its ids into a KV cache: a new one, or, with state, the conversation's
     * cache with its reusable prefix kept (only the rest runs, and only the images not cached are encoded).
     *
     * @throws InvalidInputException when the prompt does not fit the context window
     */
    public Prefilled prefill(Prompt prompt, int maxNewTokens, ChatState state, TokenListener listener) {
        PrefillRun run = startPrefill(prompt, maxNewTokens, state, listener);
        run.step(Integer.MAX_VALUE);
        Prefilled p = run.result();
        listener.onStage("prefill " + (prompt.inputIds().length - p.reused()) + " tokens"
                + (p.reused() > 0 ? " (" + p.reused() + " cached)" : ""), p.timings().get("prefill_s"));
        return p;
    }

    /** As {@link #prefill}, in pieces: encodes the images now and leaves the rows to {@link PrefillRun#step}. */
    public PrefillRun startPrefill(Prompt prompt, int maxNewTokens, ChatState state, TokenListener listener) {
        int contextLength = config.language().maxPositions();
        int promptLength = prompt.inputIds().length;
        if (promptLength >= contextLength) {
            throw new InvalidInputException("the prompt is " + promptLength + " tokens but the model's context holds "
                    + contextLength + " (images count " + config.chatProcessor().numImageTokens() + " tokens each)");
        }
        int budget = Math.min(maxNewTokens, contextLength - promptLength);
        int needed = promptLength + Math.max(budget, 1);
        KvCache cache = state == null ? new KvCache(config.language(), needed, kvCache)
                : state.prepare(config.language(), kvCache, state.reusable(prompt, config.chatProcessor().numImageTokens()), needed);
        int reused = cache.length();
        Map<String, Double> timings = new LinkedHashMap<>();
        float[] x = inputEmbeddings(prompt, reused, timings, listener);
        return new PrefillRun(llm, cache, x, promptLength - reused, budget, reused, timings);
    }

    @Override
    public void close() {
        llm.close();
        weights.close();
        quantized.close();
        tokenizer.close();
    }
}
