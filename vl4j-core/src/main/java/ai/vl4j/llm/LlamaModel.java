package ai.vl4j.llm;

import ai.vl4j.LoadProgress;
import ai.vl4j.nn.Embedding;
import ai.vl4j.nn.Linear;
import ai.vl4j.nn.Module;
import ai.vl4j.nn.Parameter;
import ai.vl4j.nn.RmsNorm;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Activations;
import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.AttentionBackward;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.Parallel;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.tensor.VectorMath;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

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
 *
 * <p>The math is written once ({@link Layer#forward}); where it runs is a {@link DecoderState}: a prefill into a KV
 * cache, a decode step of a batch of sequences, or a training tape.
 */
public final class LlamaModel implements Module {
    private static final String PREFIX = "language_model.";

    private final LlamaConfig cfg;
    private final Embedding embedTokens;  // [V, H]
    private final Layer[] layers;
    private final RmsNorm norm;
    private final Linear lmHead;          // [V, H]
    private final Rope rope;
    /** The state of a batched decode step, per calling thread, kept for the next step (no allocation per token). */
    private final ThreadLocal<DecoderState.Decode> batchState = new ThreadLocal<>();

    /**
     * Whether BF16 linear weights are re-laid into column panels at load ({@link ai.vl4j.tensor.PackedWeight}: the
     * same bytes again, the mapped copy's pages given back): decode of a batch reads each weight once for every
     * sequence at the FMA rate, and prefill skips transposing weights. {@code -Dvl4j.pack=false} keeps the
     * checkpoint's layout (the dot-form decode kernels).
     */
    public static final boolean PACK = !"false".equalsIgnoreCase(System.getProperty("vl4j.pack", "true"));

    private long packedBytes;

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
        this.embedTokens = Embedding.load(w, PREFIX + "model.embed_tokens.weight", cfg.vocabSize(), h);
        this.rope = new Rope(cfg.headDim(), cfg.ropeTheta());
        this.layers = new Layer[cfg.numLayers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new Layer(cfg, w, i, rope, quant, arena);
            progress.update(quant == null ? "building language model" : "quantizing language model to " + quant.id(), i + 1, layers.length);
        }
        this.norm = RmsNorm.load(w, PREFIX + "model.norm.weight", h, cfg.rmsNormEps());
        this.lmHead = cfg.tieWordEmbeddings() ? new Linear(embedTokens.weight(), null)
                : Linear.load(w, PREFIX + "lm_head", h, cfg.vocabSize(), false, quant, arena);
        List<Linear> linears = linears();
        if (PACK && fitsInMemory(linears)) {
            pack(linears, w, progress);
        }
    }

    /**
     * Re-lays the packable weights into panels, a weight per thread at a time (each thread also zeroes its new
     * memory, the larger part of the work), and gives back the mapped pages of each weight packed.
     */
    private void pack(List<Linear> linears, Weights w, LoadProgress progress) {
        java.util.concurrent.atomic.AtomicLong bytes = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
        Parallel.forEachIndex(0, linears.size(), (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                Parameter p = linears.get(i).weightParameter();
                long packed = p.pack();
                if (packed > 0) {
                    bytes.addAndGet(packed);
                    if (!cfg.tieWordEmbeddings() || linears.get(i) != lmHead) {
                        w.releasePages(p.stored());    // read through the panels from now on
                    }
                }
                int n = done.incrementAndGet();
                if (bytes.get() > 0 && (n % 7 == 0 || n == linears.size())) {
                    synchronized (progress) {
                        progress.update("packing language model", n, linears.size());
                    }
                }
            }
        });
        packedBytes = bytes.get();
    }

    /**
     * Whether the panels of these layers' packable weights fit in the memory the system has available (Linux's
     * MemAvailable, less a quarter for everything else): the panels are anonymous memory, which the kernel cannot
     * drop as it drops the mapped checkpoint's pages, so a machine too small for both keeps the mapped layout
     * (the dot-form kernels, slower for batches) instead of swapping or being killed. Unknown elsewhere: true.
     */
    private static boolean fitsInMemory(List<Linear> linears) {
        long bytes = 0;
        for (Linear l : linears) {
            if (ai.vl4j.tensor.PackedWeight.packable(l.weight())) {
                bytes += l.weight().bytes();
            }
        }
        long available = memAvailable();
        if (bytes > 0 && available > 0 && bytes > available / 4 * 3) {
            System.err.printf("vl4j: keeping the language model's weights as mapped (packing them would take %d MB, %d MB available)%n",
                    bytes >> 20, available >> 20);
            return false;
        }
        return true;
    }

    /** MemAvailable from /proc/meminfo in bytes, or -1 where unknown. */
    private static long memAvailable() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** Bytes of the language model's weights re-laid into panels at load (0 when none were: see {@link #PACK}). */
    public long packedBytes() {
        return packedBytes;
    }

    /** Frees the packed panels (the model must not run afterwards). */
    public void close() {
        for (Linear l : linears()) {
            l.weightParameter().unpack();
        }
    }

    /** Every layer's linear layers, then lm_head: the matrices each decode step streams. */
    private List<Linear> linears() {
        List<Linear> linears = new ArrayList<>();
        for (Layer layer : layers) {
            linears.addAll(layer.linears());
        }
        linears.add(lmHead);
        return linears;
    }

    public LlamaConfig config() {
        return cfg;
    }

    /** embed_tokens, every layer, the final norm, lm_head (its parameter counted once if tied), in checkpoint order. */
    @Override
    public List<Module> children() {
        List<Module> parts = new ArrayList<>();
        parts.add(embedTokens);
        parts.addAll(List.of(layers));
        parts.add(norm);
        parts.add(lmHead);
        return parts;
    }

    /** Bytes of weights one decode step reads: every layer's matrices and lm_head (the embedding is a row lookup). */
    public long decodeBytesPerStep() {
        long bytes = 0;
        for (Linear l : linears()) {
            bytes += l.weight().bytes();
        }
        return bytes;
    }

    /** embed_tokens. */
    public Embedding embedding() {
        return embedTokens;
    }

    /** Embedding rows of ids: [n, H]. */
    public float[] embed(int[] ids) {
        return embedTokens.forward(ids);
    }

    /**
     * Prefill: runs n new positions of one sequence (rows of x [n, H], consumed) after the cache's current length,
     * appends their keys and values to the cache, and returns the final-normed hidden states [n, H]. A row's
     * result does not depend on n: a prompt run in pieces (or after a cached prefix) gets the bits of one whole run.
     */
    public float[] forward(float[] x, int n, KvCache cache) {
        requireRoom(cache, n);
        return run(x, new DecoderState.Prefill(cfg, cache, n));
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
            requireRoom(caches[i], 1);
            for (int j = i + 1; j < b; j++) {
                if (caches[i] == caches[j]) {
                    throw new IllegalArgumentException("each sequence of a batch needs its own KV cache (sequences " + i + " and " + j + " share one)");
                }
            }
        }
        DecoderState.Decode state = batchState.get();
        if (state == null || state.capacity() < b) {
            state = new DecoderState.Decode(cfg, b);
            batchState.set(state);
        }
        return run(x, state.of(caches));
    }

    /**
     * One decode step without allocating: embeds token, runs it at the cache's next position and returns the
     * logits [V] in a buffer the cache owns and overwrites at the next step.
     */
    public float[] decodeStep(int token, KvCache cache) {
        requireRoom(cache, 1);
        float[] x = cache.decodeInput(cfg.hiddenSize());
        embedTokens.row(token, x, 0);
        run(x, cache.decodeState(cfg));
        float[] logits = cache.decodeLogits(cfg.vocabSize());
        lmHead.forward(x, 1, logits, MatMul.Regime.DECODE);
        return logits;
    }

    /** Training: the rows of x [n, H] (positions 0..n-1 of one sequence) through every layer, kept on the tape. */
    public float[] forward(float[] x, TrainingTape tape) {
        return run(x, tape);
    }

    /** x through every layer in state, then the final norm: the final-normed rows. */
    private float[] run(float[] x, DecoderState state) {
        int n = state.rows();
        for (int t = 0; t < n; t++) {
            rope.angles(state.position(t), state.cos, state.sin, t * rope.half());
        }
        for (Layer layer : layers) {
            state.beforeLayer(layer.index, x);
            layer.forward(x, state);
        }
        state.finish();
        state.beforeNorm(x);
        norm.forward(x, x, n);
        return x;
    }

    /**
     * The loss of the rows of hidden [n, H] (final-normed, from a training pass) at positions rows[i] against
     * targets[i]: Σ_i CE(lm_head(hidden[rows[i]]), targets[i]), returned; its gradient times scale goes into
     * dHidden [n, H] (the other rows get zero) and, while lm_head trains, into lm_head's gradient (dHidden null: the
     * loss only). lm_head runs only on those rows, in chunks (a vocabulary-wide row is 400 KB).
     */
    public double loss(float[] hidden, int n, int[] rows, int[] targets, float scale, float[] dHidden) {
        int h = cfg.hiddenSize();
        int vocab = cfg.vocabSize();
        if (dHidden != null) {
            java.util.Arrays.fill(dHidden, 0, n * h, 0f);
        }
        double total = 0;
        int chunk = Math.max(1, Math.min(rows.length, (1 << 26) / vocab));   // ≤ 256 MB of logits at a time
        for (int c0 = 0; c0 < rows.length; c0 += chunk) {
            int c = Math.min(chunk, rows.length - c0);
            float[] x = new float[c * h];
            int[] y = new int[c];
            for (int i = 0; i < c; i++) {
                System.arraycopy(hidden, rows[c0 + i] * h, x, i * h, h);
                y[i] = targets[c0 + i];
            }
            float[] logits = new float[c * vocab];
            lmHead.forward(x, c, logits, MatMul.Regime.PREFILL);
            total += ai.vl4j.tensor.CrossEntropy.lossAndGradient(logits, c, vocab, y, scale);
            if (dHidden == null) {
                continue;
            }
            float[] dx = new float[c * h];
            lmHead.backward(x, c, logits, dx);
            for (int i = 0; i < c; i++) {
                VectorMath.addInPlace(dHidden, rows[c0 + i] * h, dx, i * h, h);
            }
        }
        return total;
    }

    /**
     * Backward of {@link #forward(float[], TrainingTape)}: from dHidden [n, H] (the gradient of the final-normed
     * rows) back through the final norm and every layer, accumulating the gradients of the parameters that train;
     * returns the gradient of the input rows [n, H] (for the embedding and the image rows).
     */
    public float[] backward(TrainingTape tape, float[] dHidden) {
        int n = tape.rows();
        int h = cfg.hiddenSize();
        float[] dx = new float[n * h];
        norm.backward(tape.finalInput, n, dHidden, dx);
        Grads g = new Grads(cfg, n, tape.sin);
        for (int i = layers.length - 1; i >= 0; i--) {
            Layer layer = layers[i];
            Scratch s;
            if (tape.checkpoint()) {       // run the layer again from its kept input, into the tape's buffers
                s = tape.recomputed(i);
                layer.forward(java.util.Arrays.copyOf(tape.inputs[i], n * h), tape);
            } else {
                s = tape.kept[i];
            }
            layer.backward(tape.inputs[i], s, dx, tape, g);
        }
        return dx;
    }

    private static void requireRoom(KvCache cache, int n) {
        if (cache.length() + n > cache.capacity()) {
            throw new IllegalStateException("KV cache full: " + cache.length() + " + " + n + " positions > capacity " + cache.capacity());
        }
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
     * The activation buffers one layer writes for up to n rows. For inference (aliased) the buffers a layer is done
     * with are written again (the MLP's input norm over the attention's, SwiGLU's product over the gate); a
     * training tape needs each kept apart.
     */
    static final class Scratch {
        final int rows;       // n: the most rows a pass may run with these buffers
        final float[] normed; // [n, H]   RMSNorm_in(x)
        final float[] q;      // [n, H]   RoPE(q_proj)
        final float[] k;      // [n, kvDim]   RoPE(k_proj)
        final float[] v;      // [n, kvDim]
        final float[] attn;   // [n, H]   attention output, o_proj's input
        final float[] attnOut;  // [n, H]   o_proj output
        final float[] normed2;  // [n, H]   RMSNorm_post(h)
        final float[] gate;   // [n, I]   gate_proj output
        final float[] up;     // [n, I]   up_proj output
        final float[] act;    // [n, I]   SiLU(gate) ⊙ up, down_proj's input
        final float[] mlpOut; // [n, H]   down_proj output
        final float[] lse;    // [heads, n]   log-sum-exp of each attention row's scores (training only)
        final float[][] qkv;      // q, k, v: the outputs of one fused product
        final float[][] gateUp;   // gate, up
        float[] keysWide = new float[0];     // prefill over a BF16 cache: one layer's keys and values widened
        float[] valuesWide = new float[0];

        Scratch(LlamaConfig cfg, int n, boolean aliased) {
            rows = n;
            int h = cfg.hiddenSize();
            int inter = cfg.intermediateSize();
            normed = new float[n * h];
            q = new float[n * h];
            k = new float[n * cfg.kvDim()];
            v = new float[n * cfg.kvDim()];
            attn = new float[n * h];
            attnOut = new float[n * h];
            normed2 = aliased ? normed : new float[n * h];
            gate = new float[n * inter];
            up = new float[n * inter];
            act = aliased ? gate : new float[n * inter];
            mlpOut = aliased ? attnOut : new float[n * h];
            lse = aliased ? null : new float[cfg.numHeads() * n];
            qkv = new float[][] {q, k, v};
            gateUp = new float[][] {gate, up};
        }

        void ensureWide(int floats) {
            if (keysWide.length < floats) {
                keysWide = new float[floats];
                valuesWide = new float[floats];
            }
        }
    }

    /** The gradient buffers of one layer's backward pass, reused by every layer. */
    static final class Grads {
        final float[] x1;        // [n, H]   the residual between attention and MLP, recomputed
        final float[] dx1;       // [n, H]
        final float[] dNormed;   // [n, H]   of RMSNorm_in's and RMSNorm_post's outputs (one at a time)
        final float[] dAttn;     // [n, H]
        final float[] tmp;       // [n, H]
        final float[] dq;        // [n, H]
        final float[] dk;        // [n, kvDim]
        final float[] dv;        // [n, kvDim]
        final float[] dAct;      // [n, I]
        final float[] dGate;     // [n, I]
        final float[] dUp;       // [n, I]
        final float[] negSin;    // −sin of each row's angles: RoPE's backward rotates by −θ
        final float[][] dqkv;
        final float[][] dGateUp;

        Grads(LlamaConfig cfg, int n, float[] sin) {
            int h = cfg.hiddenSize();
            int inter = cfg.intermediateSize();
            x1 = new float[n * h];
            dx1 = new float[n * h];
            dNormed = new float[n * h];
            dAttn = new float[n * h];
            tmp = new float[n * h];
            dq = new float[n * h];
            dk = new float[n * cfg.kvDim()];
            dv = new float[n * cfg.kvDim()];
            dAct = new float[n * inter];
            dGate = new float[n * inter];
            dUp = new float[n * inter];
            negSin = new float[sin.length];
            for (int i = 0; i < sin.length; i++) {
                negSin[i] = -sin[i];
            }
            dqkv = new float[][] {dq, dk, dv};
            dGateUp = new float[][] {dGate, dUp};
        }
    }

    /** One decoder layer: causal self-attention and a SwiGLU MLP, both pre-RMSNorm with residuals. */
    private static final class Layer implements Module {
        private final LlamaConfig cfg;
        private final int index;                     // which of the state's per-layer buffers is this layer's
        private final RmsNorm inputNorm, postAttentionNorm;
        private final Linear q, k, v, o;             // [H, H], [kvDim, H], [kvDim, H], [H, H]
        private final Linear gate, up, down;         // [I, H], [I, H], [H, I]
        private final Linear.Group qkv, gateUp;      // products that share their input run as one pass
        private final Rope rope;

        Layer(LlamaConfig cfg, Weights w, int index, Rope rope, QuantType quant, Arena arena) {
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
            this.qkv = new Linear.Group(q, k, v);
            this.gateUp = new Linear.Group(gate, up);
            this.rope = rope;
        }

        List<Linear> linears() {
            return List.of(q, k, v, o, gate, up, down);
        }

        @Override
        public List<Module> children() {
            return List.of(inputNorm, q, k, v, o, postAttentionNorm, gate, up, down);
        }

        /** The rows of x [n, H] through this layer, in place; state says where they are and what they see. */
        void forward(float[] x, DecoderState state) {
            int n = state.rows();
            int h = cfg.hiddenSize();
            int kvDim = cfg.kvDim();
            LlamaModel.Scratch s = state.scratch(index);
            MatMul.Regime regime = state.regime();
            // h = x + o_proj(CausalAttn(RoPE(q), RoPE(k), v)),  q, k, v = projections of input_layernorm(x)
            inputNorm.forward(x, s.normed, n);
            qkv.forward(s.normed, n, s.qkv, regime);
            Parallel.forRange(0, n, 32, (lo, hi) -> {          // rows apart: each keeps its own position
                for (int t = lo; t < hi; t++) {
                    rope.apply(s.q, t, h, state.cos, state.sin, t * rope.half());
                    rope.apply(s.k, t, kvDim, state.cos, state.sin, t * rope.half());
                    state.keep(index, t, s.k, t * kvDim, s.v, t * kvDim);
                }
            });
            state.attend(index, cfg, s);
            o.forward(s.attn, n, s.attnOut, regime);
            VectorMath.addInPlace(x, s.attnOut, n * h);
            // x = h + down(SiLU(gate(u)) ⊙ up(u)),  u = post_attention_layernorm(h)
            postAttentionNorm.forward(x, s.normed2, n);
            gateUp.forward(s.normed2, n, s.gateUp, regime);
            Activations.siluMul(s.gate, s.up, s.act, n * cfg.intermediateSize());
            down.forward(s.act, n, s.mlpOut, regime);
            VectorMath.addInPlace(x, s.mlpOut, n * h);
        }

        /**
         * Backward of {@link #forward} on the layer input x0 [n, H] whose activations s holds: dx [n, H] comes in as
         * the gradient of the layer's output and leaves as that of its input; the gradients of the parameters that
         * train accumulate. The forward in reverse, with x1 = x0 + attnOut the residual between the two halves:
         */
        void backward(float[] x0, LlamaModel.Scratch s, float[] dx, TrainingTape tape, Grads g) {
            int n = tape.rows();
            int h = cfg.hiddenSize();
            int kvDim = cfg.kvDim();
            int inter = cfg.intermediateSize();
            // x2 = x1 + down(SiLU(gate(u)) ⊙ up(u)),  u = post_attention_layernorm(x1)
            down.backward(s.act, n, dx, g.dAct);
            Activations.siluMulBackward(s.gate, s.up, g.dAct, g.dGate, g.dUp, n * inter);
            gateUp.backward(s.normed2, n, g.dGateUp, g.dNormed, g.tmp);
            System.arraycopy(x0, 0, g.x1, 0, n * h);
            VectorMath.addInPlace(g.x1, s.attnOut, n * h);
            postAttentionNorm.backward(g.x1, n, g.dNormed, g.dx1);
            VectorMath.addInPlace(g.dx1, dx, n * h);
            // x1 = x0 + o_proj(CausalAttn(RoPE(q), RoPE(k), v)),  q, k, v = projections of input_layernorm(x0)
            o.backward(s.attn, n, g.dx1, g.dAttn);
            AttentionBackward.multiHead(new Attention.Operand(s.q, h, 0), new Attention.Operand(s.k, kvDim, 0),
                    new Attention.Operand(s.v, kvDim, 0), new Attention.Operand(s.attn, h, 0), new Attention.Operand(g.dAttn, h, 0),
                    s.lse, new Attention.Operand(g.dq, h, 0), new Attention.Operand(g.dk, kvDim, 0), new Attention.Operand(g.dv, kvDim, 0),
                    n, n, cfg.numHeads(), cfg.numKvHeads(), cfg.headDim(), DecoderState.scale(cfg), 0);
            for (int t = 0; t < n; t++) {          // RoPE's backward: the rotation by −θ
                rope.apply(g.dq, t, h, tape.cos, g.negSin, t * rope.half());
                rope.apply(g.dk, t, kvDim, tape.cos, g.negSin, t * rope.half());
            }
            qkv.backward(s.normed, n, g.dqkv, g.dNormed, g.tmp);
            inputNorm.backward(x0, n, g.dNormed, dx);
            VectorMath.addInPlace(dx, g.dx1, n * h);
        }
    }
}
