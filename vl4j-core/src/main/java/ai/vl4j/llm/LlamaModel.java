package ai.vl4j.llm;

import ai.vl4j.LoadProgress;
import ai.vl4j.nn.Linear;
import ai.vl4j.nn.RmsNorm;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Activations;
import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.Parallel;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.tensor.VectorMath;
import ai.vl4j.tensor.WeightMatrix;
import ai.vl4j.tensor.Widen;
import java.lang.foreign.Arena;

/**
 * The DeepSeek-LLM decoder ({@code LlamaForCausalLM}, transformers 4.38), spec §3.5:
 * <pre>
 *   x = embed_tokens[ids]   (image rows replaced by the aligner output before this model sees them)
 *   per layer:  h = x + o_proj(CausalAttn(RoPE(q), RoPE(k), v; RMSNorm_in(x)))
 *               x = h + down(SiLU(gate(u)) ⊙ up(u)),  u = RMSNorm_post(h)
 *   logits = lm_head(RMSNorm_final(x))     (untied lm_head, 102400 rows)
 * </pre>
 * Weight names: language_model.model.{embed_tokens, layers.N.{self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj,
 * input_layernorm, post_attention_layernorm}, norm}, language_model.lm_head.
 */
public final class LlamaModel {
    private static final String PREFIX = "language_model.";

    private final LlamaConfig cfg;
    private final Tensor embedTokens;  // [V, H]
    private final Layer[] layers;
    private final RmsNorm norm;
    private final Linear lmHead;       // [V, H]
    private final Rope rope;
    /** The activations of a batched step, per calling thread, kept for the next step (no allocation per token). */
    private final ThreadLocal<Scratch> batchScratch = new ThreadLocal<>();

    public LlamaModel(LlamaConfig cfg, Weights w) {
        this(cfg, w, null, null);
    }

    /**
     * @param quant quantize the dense linear weights (attention, MLP, lm_head) at load time, or null to use them
     *              as stored (a folder written by {@code vl4j quantize} is already quantized)
     * @param arena memory for load-time quantized weights
     */
    public LlamaModel(LlamaConfig cfg, Weights w, QuantType quant, Arena arena) {
        this(cfg, w, quant, arena, LoadProgress.NONE);
    }

    /** As above, reporting each layer built (quantizing at load time takes a while). */
    public LlamaModel(LlamaConfig cfg, Weights w, QuantType quant, Arena arena, LoadProgress progress) {
        this.cfg = cfg;
        int h = cfg.hiddenSize();
        this.embedTokens = w.require(PREFIX + "model.embed_tokens.weight", cfg.vocabSize(), h);
        this.layers = new Layer[cfg.numLayers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new Layer(cfg, w, i, quant, arena);
            progress.update(quant == null ? "building language model" : "quantizing language model to " + quant.id(), i + 1, layers.length);
        }
        this.norm = RmsNorm.load(w, PREFIX + "model.norm.weight", h, cfg.rmsNormEps());
        this.lmHead = cfg.tieWordEmbeddings() ? new Linear(embedTokens, null)
                : Linear.load(w, PREFIX + "lm_head", h, cfg.vocabSize(), false, quant, arena);
        this.rope = new Rope(cfg.headDim(), cfg.ropeTheta());
    }

    public LlamaConfig config() {
        return cfg;
    }

    /** Bytes of weights one decode step reads: every layer's matrices and lm_head (the embedding is a row lookup). */
    public long decodeBytesPerStep() {
        long bytes = lmHead.weight().bytes();
        for (Layer layer : layers) {
            for (Linear l : new Linear[] {layer.q, layer.k, layer.v, layer.o, layer.gate, layer.up, layer.down}) {
                bytes += l.weight().bytes();
            }
        }
        return bytes;
    }

    /** Embedding rows of ids: [n, H]. */
    public float[] embed(int[] ids) {
        int h = cfg.hiddenSize();
        float[] x = new float[ids.length * h];
        for (int t = 0; t < ids.length; t++) {
            int id = ids[t];
            if (id < 0 || id >= cfg.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary (0.." + (cfg.vocabSize() - 1) + ")");
            }
            Widen.toFloat(embedTokens.data(), embedTokens.dtype(), (long) id * h, x, t * h, h);
        }
        return x;
    }

    /**
     * Prefill: runs n new positions of one sequence (rows of x [n, H], consumed) after the cache's current length,
     * appends their keys and values to the cache, and returns the final-normed hidden states [n, H]. A row's
     * result does not depend on n: a prompt run in pieces (or after a cached prefix) gets the bits of one whole run.
     */
    public float[] forward(float[] x, int n, KvCache cache) {
        requireRoom(cache, n);
        Scratch s = new Scratch(cfg, n);
        for (int t = 0; t < n; t++) {
            rope.angles(cache.length() + t, s.cos, s.sin, t * rope.half());
        }
        KvCache[] one = {cache};
        for (Layer layer : layers) {
            layer.forward(x, n, one, s, rope, true);
        }
        cache.advance(n);
        norm.forward(x, x, n);
        return x;
    }

    /**
     * One decode step for several independent sequences at once: row b of x [B, H] is the next token of the
     * sequence whose cache is caches[b]. The linear layers run on all B rows in one pass over the weights (the
     * point of batching: decode is bound by reading the weights); attention stays per sequence. Returns the
     * final-normed hidden states [B, H]. Each row's result is the bits that sequence gets decoded alone
     * ({@link #decodeStep}), whatever the batch's size and other sequences.
     */
    public float[] forwardBatch(float[] x, KvCache[] caches) {
        int b = caches.length;
        for (int i = 0; i < b; i++) {
            for (int j = i + 1; j < b; j++) {
                if (caches[i] == caches[j]) {
                    throw new IllegalArgumentException("each sequence of a batch needs its own KV cache (sequences " + i + " and " + j + " share one)");
                }
            }
        }
        Scratch s = batchScratch.get();
        if (s == null || s.rows < b) {
            s = new Scratch(cfg, b);
            batchScratch.set(s);
        }
        return decode(x, caches, s);
    }

    /** Decode: one new position for each sequence, row b of x [B, H] that of caches[b]; the final-normed rows. */
    private float[] decode(float[] x, KvCache[] caches, Scratch s) {
        int b = caches.length;
        for (KvCache c : caches) {
            requireRoom(c, 1);
        }
        for (int t = 0; t < b; t++) {
            rope.angles(caches[t].length(), s.cos, s.sin, t * rope.half());
        }
        for (Layer layer : layers) {
            layer.forward(x, b, caches, s, rope, false);
        }
        for (KvCache c : caches) {
            c.advance(1);
        }
        norm.forward(x, x, b);
        return x;
    }

    private static void requireRoom(KvCache cache, int n) {
        if (cache.length() + n > cache.capacity()) {
            throw new IllegalStateException("KV cache full: " + cache.length() + " + " + n + " positions > capacity " + cache.capacity());
        }
    }

    /**
     * One decode step without allocating: embeds token, runs it at the cache's next position and returns the
     * logits [V] in a buffer the cache owns and overwrites at the next step.
     */
    public float[] decodeStep(int token, KvCache cache) {
        int h = cfg.hiddenSize();
        if (token < 0 || token >= cfg.vocabSize()) {
            throw new IllegalArgumentException("token id " + token + " outside the vocabulary (0.." + (cfg.vocabSize() - 1) + ")");
        }
        float[] x = cache.decodeInput(h);
        Widen.toFloat(embedTokens.data(), embedTokens.dtype(), (long) token * h, x, 0, h);
        decode(x, cache.decodeCaches(), cache.decodeScratch(cfg));
        float[] logits = cache.decodeLogits(cfg.vocabSize());
        lmHead.forward(x, 1, logits, MatMul.Regime.DECODE);
        return logits;
    }

    /** logits [rows, V] of the first rows of hidden [.., H], in one pass over lm_head (batched decode). */
    public float[] logitsOfRows(float[] hidden, int rows) {
        return logitsOfRows(hidden, rows, new float[rows * cfg.vocabSize()]);
    }

    /** As above, into logits (at least rows·V long), which is returned. */
    public float[] logitsOfRows(float[] hidden, int rows, float[] logits) {
        if (logits.length < (long) rows * cfg.vocabSize()) {
            throw new IllegalArgumentException("logits buffer of " + logits.length + " floats < " + rows + " rows × " + cfg.vocabSize());
        }
        lmHead.forward(hidden, rows, logits, MatMul.Regime.DECODE);   // each row as decodeStep gives it
        return logits;
    }

    /** logits [V] of row `row` of hidden [.., H]. */
    public float[] logits(float[] hidden, int row) {
        int h = cfg.hiddenSize();
        float[] one = new float[h];
        System.arraycopy(hidden, row * h, one, 0, h);
        float[] logits = new float[cfg.vocabSize()];
        lmHead.forward(one, 1, logits, MatMul.Regime.DECODE);
        return logits;
    }

    /**
     * Activation buffers of one forward call of up to n rows (a decode step's are kept by its KvCache, a batched
     * step's by the model per thread).
     */
    static final class Scratch {
        final int rows;       // n: the most rows a forward call may run with these buffers
        final float[] normed; // [n, H]
        final float[] q;      // [n, H]
        final float[] k;      // [n, kvDim]
        final float[] v;      // [n, kvDim]
        final float[] attn;   // [n, H]
        final float[] out;    // [n, H]
        final float[] gate;   // [n, I]
        final float[] up;     // [n, I]
        final float[][] qkv;      // q, k, v: the outputs of one fused product
        final float[][] gateUp;   // gate, up
        final float[] cos;        // [n, headDim / 2]: RoPE angles of each row's position, shared by all layers
        final float[] sin;
        float[] keysWide = new float[0];     // prefill over a BF16 cache: one layer's keys and values widened
        float[] valuesWide = new float[0];

        void ensureWide(int floats) {
            if (keysWide.length < floats) {
                keysWide = new float[floats];
                valuesWide = new float[floats];
            }
        }

        Scratch(LlamaConfig cfg, int n) {
            rows = n;
            int h = cfg.hiddenSize();
            normed = new float[n * h];
            q = new float[n * h];
            k = new float[n * cfg.kvDim()];
            v = new float[n * cfg.kvDim()];
            attn = new float[n * h];
            out = new float[n * h];
            gate = new float[n * cfg.intermediateSize()];
            up = new float[n * cfg.intermediateSize()];
            qkv = new float[][] {q, k, v};
            gateUp = new float[][] {gate, up};
            cos = new float[n * cfg.headDim() / 2];
            sin = new float[n * cfg.headDim() / 2];
        }
    }

    /** One decoder layer: causal self-attention and a SwiGLU MLP, both pre-RMSNorm with residuals. */
    private static final class Layer {
        private final LlamaConfig cfg;
        private final int index;                     // which of the cache's per-layer buffers is this layer's
        private final RmsNorm inputNorm, postAttentionNorm;
        private final Linear q, k, v, o;             // [H, H], [kvDim, H], [kvDim, H], [H, H]
        private final Linear gate, up, down;         // [I, H], [I, H], [H, I]
        private final WeightMatrix[] qkv, gateUp;    // products that share their input run as one parallel pass

        Layer(LlamaConfig cfg, Weights w, int index, QuantType quant, Arena arena) {
            String prefix = PREFIX + "model.layers." + index + ".";
            this.index = index;
            int h = cfg.hiddenSize();
            int kv = cfg.kvDim();
            int inter = cfg.intermediateSize();
            this.cfg = cfg;
            this.inputNorm = RmsNorm.load(w, prefix + "input_layernorm.weight", h, cfg.rmsNormEps());
            this.q = Linear.load(w, prefix + "self_attn.q_proj", h, h, false, quant, arena);
            this.k = Linear.load(w, prefix + "self_attn.k_proj", h, kv, false, quant, arena);
            this.v = Linear.load(w, prefix + "self_attn.v_proj", h, kv, false, quant, arena);
            this.o = Linear.load(w, prefix + "self_attn.o_proj", h, h, false, quant, arena);
            this.postAttentionNorm = RmsNorm.load(w, prefix + "post_attention_layernorm.weight", h, cfg.rmsNormEps());
            this.gate = Linear.load(w, prefix + "mlp.gate_proj", h, inter, false, quant, arena);
            this.up = Linear.load(w, prefix + "mlp.up_proj", h, inter, false, quant, arena);
            this.down = Linear.load(w, prefix + "mlp.down_proj", inter, h, false, quant, arena);
            this.qkv = new WeightMatrix[] {q.weight(), k.weight(), v.weight()};
            this.gateUp = new WeightMatrix[] {gate.weight(), up.weight()};
        }

        /**
         * Rows [0, n) of x: for a prefill, n consecutive new positions of the one sequence caches[0] (causal among
         * themselves, the GEMM and the blocked attention kernel); for a decode, row b is the next position of the
         * sequence caches[b] (the streaming kernels and the decode attention kernel).
         */
        void forward(float[] x, int n, KvCache[] caches, Scratch s, Rope rope, boolean prefill) {
            int h = cfg.hiddenSize();
            int kvDim = cfg.kvDim();
            int hd = cfg.headDim();
            float scale = (float) (1.0 / Math.sqrt(hd));
            MatMul.Regime regime = prefill ? MatMul.Regime.PREFILL : MatMul.Regime.DECODE;
            // h = x + o_proj(attn(input_layernorm(x)))
            inputNorm.forward(x, s.normed, n);
            MatMul.linearMany(s.normed, n, qkv, s.qkv, regime);     // q, k, v projections
            Parallel.forRange(0, n, 32, (lo, hi) -> {          // rows apart: each writes its own positions
                for (int t = lo; t < hi; t++) {
                    KvCache cache = prefill ? caches[0] : caches[t];
                    int pos = cache.length() + (prefill ? t : 0);
                    rope.apply(s.q, t, h, s.cos, s.sin, t * rope.half());      // the angles of pos, from forward
                    rope.apply(s.k, t, kvDim, s.cos, s.sin, t * rope.half());
                    // append to the cache: each key into its tile of Kᵀ, the values as a row (see KvCache)
                    cache.put(index, pos, s.k, t * kvDim, s.v, t * kvDim);
                }
            });
            if (prefill) {
                KvCache cache = caches[0];
                int pos0 = cache.length();
                Attention.KeysT keys;
                Attention.Operand values;
                if (cache.precision == DType.F32) {
                    keys = cache.keys(index);
                    values = cache.values(index);
                } else {   // prefill over a BF16 cache: its rounded values, widened for the blocked kernel
                    s.ensureWide(kvDim * cache.stride);
                    cache.widen(index, pos0 + n, s.keysWide, s.valuesWide);
                    keys = new Attention.KeysT(s.keysWide, cache.headStride());
                    values = new Attention.Operand(s.valuesWide, hd, 0, cache.headStride());
                }
                Attention.multiHead(new Attention.Operand(s.q, h, 0), keys, values,
                        new Attention.Operand(s.attn, h, 0), n, pos0 + n, cfg.numHeads(), cfg.numKvHeads(), hd, scale, pos0, null);
            } else {
                for (int t = 0; t < n; t++) {   // one new position per sequence
                    KvCache cache = caches[t];
                    int pos = cache.length();
                    Attention.Operand q = new Attention.Operand(s.q, h, t * h);
                    Attention.Operand out = new Attention.Operand(s.attn, h, t * h);
                    if (cache.precision == DType.F32) {
                        Attention.decode(q, cache.keys(index), cache.values(index), out, pos + 1, cfg.numHeads(), cfg.numKvHeads(), hd, scale);
                    } else {
                        Attention.decodeBf16(q, cache.keysT16[index], cache.headStride(), cache.values16[index], hd, cache.headStride(),
                                out, pos + 1, cfg.numHeads(), cfg.numKvHeads(), hd, scale);
                    }
                }
            }
            o.forward(s.attn, n, s.out, regime);
            VectorMath.addInPlace(x, s.out, n * h);
            // x = h + down(silu(gate(u)) * up(u)),  u = post_attention_layernorm(h)
            postAttentionNorm.forward(x, s.normed, n);
            MatMul.linearMany(s.normed, n, gateUp, s.gateUp, regime);     // gate and up projections
            Activations.siluMul(s.gate, s.up, n * cfg.intermediateSize());
            down.forward(s.gate, n, s.out, regime);
            VectorMath.addInPlace(x, s.out, n * h);
        }
    }
}
