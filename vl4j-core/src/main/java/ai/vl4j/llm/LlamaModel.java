package ai.vl4j.llm;

import ai.vl4j.nn.Linear;
import ai.vl4j.nn.RmsNorm;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Activations;
import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.tensor.VectorMath;
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

    public LlamaModel(LlamaConfig cfg, Weights w) {
        this(cfg, w, null, null);
    }

    /**
     * @param quant quantize the dense linear weights (attention, MLP, lm_head) at load time, or null to use them
     *              as stored (a folder written by {@code vl4j quantize} is already quantized)
     * @param arena memory for load-time quantized weights
     */
    public LlamaModel(LlamaConfig cfg, Weights w, QuantType quant, Arena arena) {
        this.cfg = cfg;
        int h = cfg.hiddenSize();
        this.embedTokens = w.require(PREFIX + "model.embed_tokens.weight", cfg.vocabSize(), h);
        this.layers = new Layer[cfg.numLayers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new Layer(cfg, w, PREFIX + "model.layers." + i + ".", quant, arena);
        }
        this.norm = RmsNorm.load(w, PREFIX + "model.norm.weight", h, cfg.rmsNormEps());
        this.lmHead = cfg.tieWordEmbeddings() ? new Linear(embedTokens, null)
                : Linear.load(w, PREFIX + "lm_head", h, cfg.vocabSize(), false, quant, arena);
        this.rope = new Rope(cfg.headDim(), cfg.ropeTheta());
    }

    public LlamaConfig config() {
        return cfg;
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
     * Runs n new positions (rows of x [n, H], consumed) after the cache's current length, appends their keys and
     * values to the cache, and returns the final-normed hidden states [n, H].
     */
    public float[] forward(float[] x, int n, KvCache cache) {
        int pos0 = cache.length();
        if (pos0 + n > cache.capacity()) {
            throw new IllegalStateException("KV cache full: " + pos0 + " + " + n + " positions > capacity " + cache.capacity());
        }
        Scratch s = new Scratch(cfg, n);
        for (int l = 0; l < layers.length; l++) {
            layers[l].forward(x, n, pos0, cache.keysT[l], cache.values[l], cache.stride, s, rope);
        }
        cache.advance(n);
        norm.forward(x, x, n);
        return x;
    }

    /** logits [V] of row `row` of hidden [.., H]. */
    public float[] logits(float[] hidden, int row) {
        int h = cfg.hiddenSize();
        float[] one = new float[h];
        System.arraycopy(hidden, row * h, one, 0, h);
        float[] logits = new float[cfg.vocabSize()];
        lmHead.forward(one, 1, logits);
        return logits;
    }

    /** Activation buffers of one forward call of n rows. */
    private static final class Scratch {
        final float[] normed; // [n, H]
        final float[] q;      // [n, H]
        final float[] k;      // [n, kvDim]
        final float[] v;      // [n, kvDim]
        final float[] attn;   // [n, H]
        final float[] out;    // [n, H]
        final float[] gate;   // [n, I]
        final float[] up;     // [n, I]

        Scratch(LlamaConfig cfg, int n) {
            int h = cfg.hiddenSize();
            normed = new float[n * h];
            q = new float[n * h];
            k = new float[n * cfg.kvDim()];
            v = new float[n * cfg.kvDim()];
            attn = new float[n * h];
            out = new float[n * h];
            gate = new float[n * cfg.intermediateSize()];
            up = new float[n * cfg.intermediateSize()];
        }
    }

    /** One decoder layer: causal self-attention and a SwiGLU MLP, both pre-RMSNorm with residuals. */
    private static final class Layer {
        private final LlamaConfig cfg;
        private final RmsNorm inputNorm, postAttentionNorm;
        private final Linear q, k, v, o;             // [H, H], [kvDim, H], [kvDim, H], [H, H]
        private final Linear gate, up, down;         // [I, H], [I, H], [H, I]

        Layer(LlamaConfig cfg, Weights w, String prefix, QuantType quant, Arena arena) {
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
        }

        void forward(float[] x, int n, int pos0, float[] keysT, float[] values, int stride, Scratch s, Rope rope) {
            int h = cfg.hiddenSize();
            int kvDim = cfg.kvDim();
            int hd = cfg.headDim();
            // h = x + o_proj(attn(input_layernorm(x)))
            inputNorm.forward(x, s.normed, n);
            q.forward(s.normed, n, s.q);
            k.forward(s.normed, n, s.k);
            v.forward(s.normed, n, s.v);
            rope.apply(s.q, n, h, pos0);
            rope.apply(s.k, n, kvDim, pos0);
            // append to the cache: keys transposed per kv head (positions contiguous), values as rows
            for (int t = 0; t < n; t++) {
                for (int c = 0; c < kvDim; c++) {
                    keysT[(c / hd) * hd * stride + (c % hd) * stride + pos0 + t] = s.k[t * kvDim + c];
                }
            }
            System.arraycopy(s.v, 0, values, pos0 * kvDim, n * kvDim);
            Attention.multiHead(
                    new Attention.Operand(s.q, h, 0),
                    new Attention.KeysT(keysT, hd * stride, stride),
                    new Attention.Operand(values, kvDim, 0),
                    new Attention.Operand(s.attn, h, 0), n, pos0 + n, cfg.numHeads(), cfg.numKvHeads(), hd,
                    (float) (1.0 / Math.sqrt(hd)), pos0, null);
            o.forward(s.attn, n, s.out);
            VectorMath.addInPlace(x, s.out, n * h);
            // x = h + down(silu(gate(u)) * up(u)),  u = post_attention_layernorm(h)
            postAttentionNorm.forward(x, s.normed, n);
            gate.forward(s.normed, n, s.gate);
            up.forward(s.normed, n, s.up);
            Activations.siluMul(s.gate, s.up, n * cfg.intermediateSize());
            down.forward(s.gate, n, s.out);
            VectorMath.addInPlace(x, s.out, n * h);
        }
    }
}
