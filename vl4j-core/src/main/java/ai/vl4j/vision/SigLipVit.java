package ai.vl4j.vision;

import ai.vl4j.nn.Activation;
import ai.vl4j.nn.LayerNorm;
import ai.vl4j.nn.Linear;
import ai.vl4j.nn.Module;
import ai.vl4j.nn.Parameter;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Activations;
import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.AttentionBackward;
import ai.vl4j.tensor.VectorMath;
import java.util.ArrayList;
import java.util.List;

/**
 * SigLIP-L/16 (timm VisionTransformer, no class token, attention-pool head not run), spec §3.1:
 * <pre>
 *   X [3, S, S]  --normalize (x - mean)/std-->  conv P×P stride P (+bias)  -->  T [N, D], N = (S/P)²
 *   T += pos_embed
 *   depth × Block:  T = T + proj(MHA(LN1(T)));  T = T + fc2(GELU(fc1(LN2(T))))
 *   F = LN_final(T)                                                             [N, D]
 * </pre>
 * Weight names under {@code prefix}: patch_embed.proj, pos_embed, blocks.N.{norm1,attn.qkv,attn.proj,norm2,
 * mlp.fc1,mlp.fc2}, norm. The {@code attn_pool.*} tensors of the checkpoint are never read. The same tower is
 * read from Hugging Face's {@code SiglipVisionModel} names through {@link Names#hf}, and its {@link Block} is the
 * encoder layer of the SigLIP and CLIP towers of {@code ai.vl4j.siglip} / {@code ai.vl4j.clip}.
 */
public final class SigLipVit implements VisionTower {

    private final SigLipConfig cfg;
    private final Linear patchEmbed;    // conv [D, 3, P, P] seen as a matrix [D, 3·P·P]
    private final Parameter posEmbed;   // [1, N, D] (timm) or [N, D] (HF)
    private final Block[] blocks;
    private final LayerNorm norm;

    /** Where a checkpoint keeps the tower's tensors (prefixes end with a dot; layer i under {@code layers + i + "."}). */
    public record Names(String patchEmbed, String posEmbed, boolean posEmbedHasBatchDim, String layers, LayerNames layer, String norm) {
        /** timm's VisionTransformer (DeepSeek-VL): pos_embed [1, N, D], blocks.N.*, norm. */
        public static Names timm(String prefix) {
            return new Names(prefix + "patch_embed.proj", prefix + "pos_embed", true, prefix + "blocks.", LayerNames.TIMM, prefix + "norm");
        }

        /** Hugging Face's SiglipVisionTransformer: embeddings.*, position_embedding [N, D], encoder.layers.N.*, post_layernorm. */
        public static Names hf(String prefix) {
            return new Names(prefix + "embeddings.patch_embedding", prefix + "embeddings.position_embedding.weight", false,
                    prefix + "encoder.layers.", LayerNames.HF, prefix + "post_layernorm");
        }
    }

    /** Tensor names inside one encoder layer: qkv is one fused [3D, D] projection (timm) or q, k, v [D, D] each (HF). */
    public record LayerNames(List<String> qkv, String proj, String norm1, String norm2, String fc1, String fc2) {
        public static final LayerNames TIMM = new LayerNames(List.of("attn.qkv"), "attn.proj", "norm1", "norm2", "mlp.fc1", "mlp.fc2");
        public static final LayerNames HF = new LayerNames(List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
                "self_attn.out_proj", "layer_norm1", "layer_norm2", "mlp.fc1", "mlp.fc2");
    }

    /**
     * One encoder layer's sizes and choices.
     *
     * @param causal query i attends to keys 0..i only (CLIP's text tower)
     */
    public record LayerSpec(int width, int heads, int mlpHidden, float eps, Activation activation, boolean causal) {
        public int headDim() {
            return width / heads;
        }
    }

    public SigLipVit(SigLipConfig cfg, Weights w, String prefix) {
        this(cfg, new LayerSpec(cfg.width(), cfg.heads(), cfg.mlpHidden(), SigLipConfig.LAYER_NORM_EPS, Activation.GELU, false),
                w, Names.timm(prefix));
    }

    public SigLipVit(SigLipConfig cfg, LayerSpec layer, Weights w, Names names) {
        this.cfg = cfg;
        int d = cfg.width();
        int p = cfg.patchSize();
        this.patchEmbed = new Linear(w.require(names.patchEmbed() + ".weight", d, 3, p, p), w.require(names.patchEmbed() + ".bias", d));
        this.posEmbed = Parameter.vector(names.posEmbedHasBatchDim() ? w.require(names.posEmbed(), 1, cfg.numTokens(), d)
                : w.require(names.posEmbed(), cfg.numTokens(), d));
        this.blocks = new Block[cfg.depth()];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = new Block(layer, w, names.layers() + i + ".", names.layer());
        }
        this.norm = LayerNorm.load(w, names.norm(), d, layer.eps());
    }

    public SigLipConfig config() {
        return cfg;
    }

    /** patch_embed.proj, pos_embed, every block, the final norm (the attn_pool head is not part of this tower). */
    @Override
    public List<Module> children() {
        List<Module> parts = new ArrayList<>();
        parts.add(patchEmbed);
        parts.add(new Module() {
            @Override
            public List<Parameter> parameters() {
                return List.of(posEmbed);
            }
        });
        parts.addAll(List.of(blocks));
        parts.add(norm);
        return parts;
    }

    @Override
    public int imageSize() {
        return cfg.imageSize();
    }

    @Override
    public int numTokens() {
        return cfg.numTokens();
    }

    @Override
    public float[][] features(float[] pixels) {
        return new float[][] {forward(pixels)};
    }

    /** Features [N, D] of one image [3, S, S] with values in [0, 1]. */
    public float[] forward(float[] image) {
        return forward(image, Taps.NONE);
    }

    /** As {@link #forward(float[])}, handing the residual stream after block i to taps as "block" + i. */
    public float[] forward(float[] image, Taps taps) {
        int n = cfg.numTokens();
        int d = cfg.width();
        float[] patches = Pixels.patches(Pixels.normalize(image, cfg.imageSize(), cfg.pixelMean(), cfg.pixelStd()),
                cfg.imageSize(), cfg.patchSize());
        float[] x = new float[n * d];                               // [N, D]
        patchEmbed.forward(patches, n, x);
        VectorMath.addInPlace(x, posEmbed.values(), n * d);
        Scratch s = new Scratch(n, d, cfg.mlpHidden());
        for (int i = 0; i < blocks.length; i++) {
            blocks[i].forward(x, n, s);
            taps.tap("block" + i, x);
        }
        norm.forward(x, x, n);
        return x;
    }

    /**
     * A training pass: what {@link #backward} needs of one image's forward pass (the patches, each block's input
     * and buffers, the final norm's input).
     */
    public static final class Tape {
        float[] patches;
        final List<float[]> inputs = new ArrayList<>();
        final List<Scratch> kept = new ArrayList<>();
        float[] finalInput;
    }

    /** {@link #forward(float[])} keeping on tape what backward needs. */
    public float[] forward(float[] image, Tape tape) {
        int n = cfg.numTokens();
        int d = cfg.width();
        tape.patches = Pixels.patches(Pixels.normalize(image, cfg.imageSize(), cfg.pixelMean(), cfg.pixelStd()), cfg.imageSize(), cfg.patchSize());
        float[] x = new float[n * d];
        patchEmbed.forward(tape.patches, n, x);
        VectorMath.addInPlace(x, posEmbed.values(), n * d);
        for (Block block : blocks) {
            tape.inputs.add(x.clone());
            Scratch s = Scratch.training(n, d, cfg.mlpHidden(), block.spec.heads());
            block.forward(x, n, n, s);
            tape.kept.add(s);
        }
        tape.finalInput = x.clone();
        norm.forward(x, x, n);
        return x;
    }

    /**
     * Backward of {@link #forward(float[], Tape)} from dOut [N, D]: the gradients of the tower's parameters that train
     * accumulate (the pixels take none: nothing before the tower trains).
     */
    public void backward(Tape tape, float[] dOut) {
        int n = cfg.numTokens();
        int d = cfg.width();
        float[] dx = new float[n * d];
        norm.backward(tape.finalInput, n, dOut, dx);
        for (int i = blocks.length - 1; i >= 0; i--) {
            blocks[i].backward(tape.inputs.get(i), n, tape.kept.get(i), dx);
        }
        if (posEmbed.trainable()) {
            VectorMath.addInPlace(posEmbed.grad(), dx, n * d);
        }
        patchEmbed.backward(tape.patches, n, dx, null);
    }

    /**
     * Activation buffers of one forward pass over up to {@code rows} tokens. For inference one set serves every
     * block, written again where a block is done with them (the MLP's norm over the attention's, the activation in
     * place); a training pass keeps each block's apart.
     */
    public static final class Scratch {
        final float[] normed;   // [N, D]   norm1(x)
        final float[] qkv;      // [N, 3D]
        final float[] attn;     // [N, D]   attention output, proj's input
        final float[] attnOut;  // [N, D]   proj output
        final float[] normed2;  // [N, D]   norm2(x1)
        final float[] pre;      // [N, mlpHidden]   fc1 output
        final float[] hidden;   // [N, mlpHidden]   its activation, fc2's input
        final float[] mlpOut;   // [N, D]   fc2 output
        final float[] lse;      // [heads, N]  log-sum-exp of each attention row (training only)

        public Scratch(int rows, int width, int mlpHidden) {
            this(rows, width, mlpHidden, 0, true);
        }

        private Scratch(int rows, int width, int mlpHidden, int heads, boolean aliased) {
            normed = new float[rows * width];
            qkv = new float[rows * 3 * width];
            attn = new float[rows * width];
            attnOut = new float[rows * width];
            normed2 = aliased ? normed : new float[rows * width];
            hidden = new float[rows * mlpHidden];
            pre = aliased ? hidden : new float[rows * mlpHidden];
            mlpOut = aliased ? attnOut : new float[rows * width];
            lse = aliased ? null : new float[heads * rows];
        }

        static Scratch training(int rows, int width, int mlpHidden, int heads) {
            return new Scratch(rows, width, mlpHidden, heads, false);
        }
    }

    /**
     * Pre-LN transformer block with multi-head attention (bidirectional, or causal) and an MLP: timm's Block, HF's
     * SiglipEncoderLayer and CLIPEncoderLayer alike.
     */
    public static final class Block implements Module {
        private final LayerSpec spec;
        private final LayerNorm norm1, norm2;
        private final Linear qkv;   // [3D, D]: columns of the output are Q | K | V, each head-major
        private final Linear proj;  // [D, D]
        private final Linear fc1;   // [mlpHidden, D]
        private final Linear fc2;   // [D, mlpHidden]

        public Block(LayerSpec spec, Weights w, String prefix, LayerNames names) {
            int d = spec.width();
            this.spec = spec;
            this.norm1 = LayerNorm.load(w, prefix + names.norm1(), d, spec.eps());
            this.qkv = Linear.loadStacked(w, names.qkv().stream().map(q -> prefix + q).toList(), d, 3 * d, true);
            this.proj = Linear.load(w, prefix + names.proj(), d, d, true);
            this.norm2 = LayerNorm.load(w, prefix + names.norm2(), d, spec.eps());
            this.fc1 = Linear.load(w, prefix + names.fc1(), d, spec.mlpHidden(), true);
            this.fc2 = Linear.load(w, prefix + names.fc2(), spec.mlpHidden(), d, true);
        }

        @Override
        public List<Module> children() {
            return List.of(norm1, qkv, proj, norm2, fc1, fc2);
        }

        /** x [n, D] in place, one sequence, with buffers for at least n rows. */
        public void forward(float[] x, int n, Scratch s) {
            forward(x, n, n, s);
        }

        /**
         * x [n, D] in place holding n / seqLen sequences of seqLen rows one after the other: the linear layers see
         * all rows at once, attention stays within each sequence.
         */
        public void forward(float[] x, int n, int seqLen, Scratch s) {
            int d = spec.width();
            // x = x + proj(attn(norm1(x)))
            norm1.forward(x, s.normed, n);
            qkv.forward(s.normed, n, s.qkv);
            for (int start = 0; start < n; start += seqLen) {
                Attention.multiHead(
                        new Attention.Operand(s.qkv, 3 * d, start * 3 * d),
                        new Attention.Operand(s.qkv, 3 * d, start * 3 * d + d),
                        new Attention.Operand(s.qkv, 3 * d, start * 3 * d + 2 * d),
                        new Attention.Operand(s.attn, d, start * d), seqLen, seqLen, spec.heads(), spec.heads(), spec.headDim(),
                        scale(), spec.causal() ? 0 : -1, null, s.lse);
            }
            proj.forward(s.attn, n, s.attnOut);
            VectorMath.addInPlace(x, s.attnOut, n * d);
            // x = x + fc2(act(fc1(norm2(x))))
            norm2.forward(x, s.normed2, n);
            fc1.forward(s.normed2, n, s.pre);
            if (s.hidden != s.pre) {
                System.arraycopy(s.pre, 0, s.hidden, 0, n * spec.mlpHidden());
            }
            spec.activation().apply(s.hidden, n * spec.mlpHidden());
            fc2.forward(s.hidden, n, s.mlpOut);
            VectorMath.addInPlace(x, s.mlpOut, n * d);
        }

        private float scale() {
            return (float) (1.0 / Math.sqrt(spec.headDim()));
        }

        /**
         * Backward of {@link #forward} over one sequence of n rows whose input was x0 and whose buffers s kept: dx [n, D]
         * comes in as the gradient of the block's output and leaves as that of its input; the gradients of the parameters
         * that train accumulate. The forward in reverse, x1 = x0 + attnOut the residual between the two halves.
         */
        void backward(float[] x0, int n, Scratch s, float[] dx) {
            if (spec.activation() != ai.vl4j.nn.Activation.GELU || spec.causal()) {
                throw new UnsupportedOperationException("training a block with " + spec.activation() + (spec.causal() ? ", causal" : ""));
            }
            int d = spec.width();
            int hidden = spec.mlpHidden();
            // x2 = x1 + fc2(GELU(fc1(norm2(x1))))
            float[] dHidden = new float[n * hidden];
            fc2.backward(s.hidden, n, dx, dHidden);
            Activations.geluBackward(s.pre, dHidden, dHidden, n * hidden);
            float[] dNormed = new float[n * d];
            fc1.backward(s.normed2, n, dHidden, dNormed);
            float[] x1 = x0.clone();
            VectorMath.addInPlace(x1, s.attnOut, n * d);
            float[] dx1 = new float[n * d];
            norm2.backward(x1, n, dNormed, dx1);
            VectorMath.addInPlace(dx1, dx, n * d);
            // x1 = x0 + proj(attn(norm1(x0)))
            float[] dAttn = new float[n * d];
            proj.backward(s.attn, n, dx1, dAttn);
            float[] dQkv = new float[n * 3 * d];
            AttentionBackward.multiHead(new Attention.Operand(s.qkv, 3 * d, 0), new Attention.Operand(s.qkv, 3 * d, d),
                    new Attention.Operand(s.qkv, 3 * d, 2 * d), new Attention.Operand(s.attn, d, 0), new Attention.Operand(dAttn, d, 0),
                    s.lse, new Attention.Operand(dQkv, 3 * d, 0), new Attention.Operand(dQkv, 3 * d, d), new Attention.Operand(dQkv, 3 * d, 2 * d),
                    n, n, spec.heads(), spec.heads(), spec.headDim(), scale(), -1);
            qkv.backward(s.normed, n, dQkv, dNormed);
            norm1.backward(x0, n, dNormed, dx);
            VectorMath.addInPlace(dx, dx1, n * d);
        }
    }
}
