package ai.vl4j.llm;

import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.MatMul;

/**
 * A training pass over one sequence: positions 0..n-1, causal attention among themselves (no KV cache: each
 * layer's keys and values stay in its buffers), the GEMM for every product, and what backward needs kept: every
 * layer's input rows and, unless activations are recomputed ({@code checkpoint}), every layer's buffers. With
 * checkpointing one set of buffers serves all layers in the forward pass, and backward runs each layer again from
 * its kept input: memory for one layer's activations instead of all of them, for one more forward pass.
 */
public final class TrainingTape extends DecoderState {
    private final LlamaConfig cfg;
    private final boolean checkpoint;
    final float[][] inputs;             // [layer] its input rows x [n, H]
    final LlamaModel.Scratch[] kept;    // [layer] its activations (all null when checkpointing)
    float[] finalInput;                 // the last layer's output [n, H], the final norm's input
    private LlamaModel.Scratch working; // checkpointing: the buffers every layer writes

    public TrainingTape(LlamaConfig cfg, int n, boolean checkpoint) {
        super(cfg, n);
        this.rows = n;
        this.cfg = cfg;
        this.checkpoint = checkpoint;
        this.inputs = new float[cfg.numLayers()][];
        this.kept = new LlamaModel.Scratch[cfg.numLayers()];
    }

    public boolean checkpoint() {
        return checkpoint;
    }

    /** Training needs no batch invariance: its products of many rows go to the compute backend in effect. */
    @Override
    MatMul.Regime regime() {
        return MatMul.Regime.AUTO;
    }

    @Override
    int position(int t) {
        return t;
    }

    @Override
    LlamaModel.Scratch scratch(int layer) {
        if (checkpoint) {
            if (working == null) {
                working = new LlamaModel.Scratch(cfg, rows, false);
            }
            return working;
        }
        if (kept[layer] == null) {
            kept[layer] = new LlamaModel.Scratch(cfg, rows, false);
        }
        return kept[layer];
    }

    @Override
    void beforeLayer(int layer, float[] x) {
        inputs[layer] = java.util.Arrays.copyOf(x, rows * cfg.hiddenSize());
    }

    @Override
    void beforeNorm(float[] x) {
        finalInput = java.util.Arrays.copyOf(x, rows * cfg.hiddenSize());
    }

    /** The buffers layer writes when it runs again in backward (checkpointing), or its kept ones. */
    LlamaModel.Scratch recomputed(int layer) {
        return scratch(layer);
    }

    @Override
    void keep(int layer, int t, float[] k, int kOff, float[] v, int vOff) {
        // the layer's keys and values stay in its buffers (s.k, s.v)
    }

    @Override
    void attend(int layer, LlamaConfig cfg, LlamaModel.Scratch s) {
        int h = cfg.hiddenSize();
        int kvDim = cfg.kvDim();
        Attention.multiHead(new Attention.Operand(s.q, h, 0), new Attention.Operand(s.k, kvDim, 0), new Attention.Operand(s.v, kvDim, 0),
                new Attention.Operand(s.attn, h, 0), rows, rows, cfg.numHeads(), cfg.numKvHeads(), cfg.headDim(), scale(cfg), 0, null, s.lse);
    }

    @Override
    void finish() {
    }
}
