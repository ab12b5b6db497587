package ai.vl4j.llm;

import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.MatMul;

/**
 * Where one pass of the decoder runs, apart from its math (which {@link LlamaModel} writes once, for every kind):
 * the positions of its rows, where their keys and values are kept and which keys they attend to, the kernels that
 * serve the rows, and the activation buffers the layers write.
 * <ul>
 *   <li>{@link Prefill}: n consecutive new positions of one sequence, appended to its KV cache; the GEMM and the
 *       blocked causal attention kernel, for any n (so a prompt run in pieces gets the bits of one whole run).
 *   <li>{@link Decode}: the next position of each of B sequences, each with its own KV cache; the streaming
 *       kernels and the decode attention kernel, for any B (so a sequence gets the bits it gets alone).
 *   <li>{@link TrainingTape}: n positions of one sequence from position 0, keeping what backward needs.
 * </ul>
 */
public abstract sealed class DecoderState permits DecoderState.Prefill, DecoderState.Decode, TrainingTape {
    int rows;                 // rows of this pass
    float[] cos, sin;         // [rows, headDim / 2]: RoPE angles of each row's position, shared by all layers

    DecoderState(LlamaConfig cfg, int capacity) {
        cos = new float[capacity * cfg.headDim() / 2];
        sin = new float[capacity * cfg.headDim() / 2];
    }

    /** Rows of this pass. */
    public int rows() {
        return rows;
    }

    abstract MatMul.Regime regime();

    /** The absolute position of row t. */
    abstract int position(int t);

    /** The activation buffers layer writes (the same for every layer, except where a tape keeps them). */
    abstract LlamaModel.Scratch scratch(int layer);

    /** Called with a layer's input rows before it runs (a tape keeps them; x is then updated in place). */
    void beforeLayer(int layer, float[] x) {
    }

    /** Called with the last layer's output before the final norm (a tape keeps it; x is then normed in place). */
    void beforeNorm(float[] x) {
    }

    /** Keeps row t's key (rotated) and value of layer, from k at kOff and v at vOff ([kvDim] each). */
    abstract void keep(int layer, int t, float[] k, int kOff, float[] v, int vOff);

    /** s.attn [rows, H] = causal attention of s.q [rows, H] over the keys and values this state holds for layer. */
    abstract void attend(int layer, LlamaConfig cfg, LlamaModel.Scratch s);

    /** After the last layer: the rows are in (caches advance). */
    abstract void finish();

    static float scale(LlamaConfig cfg) {
        return (float) (1.0 / Math.sqrt(cfg.headDim()));
    }

    /** n consecutive new positions of one sequence after its cache's length. */
    static final class Prefill extends DecoderState {
        private final KvCache cache;
        private final int pos0;
        private final LlamaModel.Scratch scratch;

        Prefill(LlamaConfig cfg, KvCache cache, int n) {
            super(cfg, n);
            this.rows = n;
            this.cache = cache;
            this.pos0 = cache.length();
            this.scratch = new LlamaModel.Scratch(cfg, n, true);
        }

        @Override
        MatMul.Regime regime() {
            return MatMul.Regime.PREFILL;
        }

        @Override
        int position(int t) {
            return pos0 + t;
        }

        @Override
        LlamaModel.Scratch scratch(int layer) {
            return scratch;
        }

        @Override
        void keep(int layer, int t, float[] k, int kOff, float[] v, int vOff) {
            cache.put(layer, pos0 + t, k, kOff, v, vOff);
        }

        @Override
        void attend(int layer, LlamaConfig cfg, LlamaModel.Scratch s) {
            int h = cfg.hiddenSize();
            int hd = cfg.headDim();
            Attention.KeysT keys;
            Attention.Operand values;
            if (cache.precision == DType.F32) {
                keys = cache.keys(layer);
                values = cache.values(layer);
            } else {   // over a BF16 cache: its rounded values, widened for the blocked kernel
                s.ensureWide(cfg.kvDim() * cache.stride);
                cache.widen(layer, pos0 + rows, s.keysWide, s.valuesWide);
                keys = new Attention.KeysT(s.keysWide, cache.headStride());
                values = new Attention.Operand(s.valuesWide, hd, 0, cache.headStride());
            }
            Attention.multiHead(new Attention.Operand(s.q, h, 0), keys, values, new Attention.Operand(s.attn, h, 0),
                    rows, pos0 + rows, cfg.numHeads(), cfg.numKvHeads(), hd, scale(cfg), pos0, null);
        }

        @Override
        void finish() {
            cache.advance(rows);
        }
    }

    /** The next position of each of several sequences: row t belongs to caches[t]. */
    static final class Decode extends DecoderState {
        private final int capacity;
        private final LlamaModel.Scratch scratch;
        private KvCache[] caches;

        Decode(LlamaConfig cfg, int capacity) {
            super(cfg, capacity);
            this.capacity = capacity;
            this.scratch = new LlamaModel.Scratch(cfg, capacity, true);
        }

        /** Holds rows for capacity sequences at most. */
        int capacity() {
            return capacity;
        }

        /** This state for the sequences of caches (one step each). */
        Decode of(KvCache[] caches) {
            if (caches.length > capacity) {
                throw new IllegalArgumentException(caches.length + " sequences > capacity " + capacity);
            }
            this.caches = caches;
            this.rows = caches.length;
            return this;
        }

        @Override
        MatMul.Regime regime() {
            return MatMul.Regime.DECODE;
        }

        @Override
        int position(int t) {
            return caches[t].length();
        }

        @Override
        LlamaModel.Scratch scratch(int layer) {
            return scratch;
        }

        @Override
        void keep(int layer, int t, float[] k, int kOff, float[] v, int vOff) {
            caches[t].put(layer, caches[t].length(), k, kOff, v, vOff);
        }

        @Override
        void attend(int layer, LlamaConfig cfg, LlamaModel.Scratch s) {
            int h = cfg.hiddenSize();
            int hd = cfg.headDim();
            for (int t = 0; t < rows; t++) {   // one new position per sequence, each over its own cache
                KvCache cache = caches[t];
                int keys = cache.length() + 1;
                Attention.Operand q = new Attention.Operand(s.q, h, t * h);
                Attention.Operand out = new Attention.Operand(s.attn, h, t * h);
                if (cache.precision == DType.F32) {
                    Attention.decode(q, cache.keys(layer), cache.values(layer), out, keys, cfg.numHeads(), cfg.numKvHeads(), hd, scale(cfg));
                } else {
                    Attention.decodeBf16(q, cache.keysT16[layer], cache.headStride(), cache.values16[layer], hd, cache.headStride(),
                            out, keys, cfg.numHeads(), cfg.numKvHeads(), hd, scale(cfg));
                }
            }
        }

        @Override
        void finish() {
            for (KvCache c : caches) {
                c.advance(1);
            }
        }
    }
}
