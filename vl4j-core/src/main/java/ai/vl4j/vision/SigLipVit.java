package ai.vl4j.vision;

import ai.vl4j.nn.LayerNorm;
import ai.vl4j.nn.Linear;
import ai.vl4j.nn.Module;
import ai.vl4j.nn.Parameter;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Activations;
import ai.vl4j.tensor.Attention;
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
 * mlp.fc1,mlp.fc2}, norm. The {@code attn_pool.*} tensors of the checkpoint are never read.
 */
public final class SigLipVit implements VisionTower {

    private final SigLipConfig cfg;
    private final Linear patchEmbed;    // conv [D, 3, P, P] seen as a matrix [D, 3·P·P]
    private final Parameter posEmbed;   // [1, N, D]
    private final Block[] blocks;
    private final LayerNorm norm;

    public SigLipVit(SigLipConfig cfg, Weights w, String prefix) {
        this.cfg = cfg;
        int d = cfg.width();
        int p = cfg.patchSize();
        this.patchEmbed = new Linear(w.require(prefix + "patch_embed.proj.weight", d, 3, p, p), w.require(prefix + "patch_embed.proj.bias", d));
        this.posEmbed = Parameter.vector(w.require(prefix + "pos_embed", 1, cfg.numTokens(), d));
        this.blocks = new Block[cfg.depth()];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = new Block(cfg, w, prefix + "blocks." + i + ".");
        }
        this.norm = LayerNorm.load(w, prefix + "norm", d, SigLipConfig.LAYER_NORM_EPS);
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
        Scratch s = new Scratch(cfg);
        for (int i = 0; i < blocks.length; i++) {
            blocks[i].forward(x, s);
            taps.tap("block" + i, x);
        }
        norm.forward(x, x, n);
        return x;
    }

    /** Activation buffers of one forward pass, reused by every block. */
    private static final class Scratch {
        final float[] normed;  // [N, D]
        final float[] qkv;     // [N, 3D]
        final float[] attn;    // [N, D]
        final float[] proj;    // [N, D]
        final float[] hidden;  // [N, mlpHidden]

        Scratch(SigLipConfig cfg) {
            int n = cfg.numTokens();
            normed = new float[n * cfg.width()];
            qkv = new float[n * 3 * cfg.width()];
            attn = new float[n * cfg.width()];
            proj = new float[n * cfg.width()];
            hidden = new float[n * cfg.mlpHidden()];
        }
    }

    /** Pre-LN transformer block with bidirectional multi-head attention and a GELU MLP. */
    private static final class Block implements Module {
        private final SigLipConfig cfg;
        private final LayerNorm norm1, norm2;
        private final Linear qkv;   // [3D, D]: columns of the output are Q | K | V, each head-major
        private final Linear proj;  // [D, D]
        private final Linear fc1;   // [mlpHidden, D]
        private final Linear fc2;   // [D, mlpHidden]

        Block(SigLipConfig cfg, Weights w, String prefix) {
            int d = cfg.width();
            this.cfg = cfg;
            this.norm1 = LayerNorm.load(w, prefix + "norm1", d, SigLipConfig.LAYER_NORM_EPS);
            this.qkv = Linear.load(w, prefix + "attn.qkv", d, 3 * d, true);
            this.proj = Linear.load(w, prefix + "attn.proj", d, d, true);
            this.norm2 = LayerNorm.load(w, prefix + "norm2", d, SigLipConfig.LAYER_NORM_EPS);
            this.fc1 = Linear.load(w, prefix + "mlp.fc1", d, cfg.mlpHidden(), true);
            this.fc2 = Linear.load(w, prefix + "mlp.fc2", cfg.mlpHidden(), d, true);
        }

        @Override
        public List<Module> children() {
            return List.of(norm1, qkv, proj, norm2, fc1, fc2);
        }

        void forward(float[] x, Scratch s) {
            int n = cfg.numTokens();
            int d = cfg.width();
            // x = x + proj(attn(norm1(x)))
            norm1.forward(x, s.normed, n);
            qkv.forward(s.normed, n, s.qkv);
            Attention.multiHead(
                    new Attention.Operand(s.qkv, 3 * d, 0),
                    new Attention.Operand(s.qkv, 3 * d, d),
                    new Attention.Operand(s.qkv, 3 * d, 2 * d),
                    new Attention.Operand(s.attn, d, 0), n, n, cfg.heads(), cfg.heads(), cfg.headDim(),
                    (float) (1.0 / Math.sqrt(cfg.headDim())), -1);
            proj.forward(s.attn, n, s.proj);
            VectorMath.addInPlace(x, s.proj, n * d);
            // x = x + fc2(gelu(fc1(norm2(x))))
            norm2.forward(x, s.normed, n);
            fc1.forward(s.normed, n, s.hidden);
            Activations.gelu(s.hidden, n * cfg.mlpHidden());
            fc2.forward(s.hidden, n, s.proj);
            VectorMath.addInPlace(x, s.proj, n * d);
        }
    }
}
