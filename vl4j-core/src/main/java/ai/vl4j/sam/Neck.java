package ai.vl4j.sam;

import ai.vl4j.nn.Conv2d;
import ai.vl4j.nn.LayerNorm;
import ai.vl4j.safetensors.Weights;

/**
 * The image encoder's neck: conv1×1 → LayerNorm2d → conv3×3 (pad 1) → LayerNorm2d, no biases on the convs.
 * LayerNorm2d normalises each position over its channels: on channels-last maps, a LayerNorm of each row.
 * DeepSeek-VL's hybrid tower has a second one ({@code neck_hd}) of the same shape.
 */
public final class Neck {
    private final Conv2d conv1;      // [out, width, 1, 1]
    private final LayerNorm norm1;   // [out]
    private final Conv2d conv2;      // [out, out, 3, 3]
    private final LayerNorm norm2;   // [out]

    /** Loads the neck under {@code prefix} (e.g. {@code neck.}) with the part names of names. */
    public Neck(Weights w, String prefix, ImageEncoder.Names names, int width, int out, float eps) {
        conv1 = Conv2d.load(w, prefix + names.neckConv1() + ".weight", width, out, 1, 1, 0);
        norm1 = LayerNorm.load(w, prefix + names.neckNorm1(), out, eps);
        conv2 = Conv2d.load(w, prefix + names.neckConv2() + ".weight", out, out, 3, 1, 1);
        norm2 = LayerNorm.load(w, prefix + names.neckNorm2(), out, eps);
    }

    /** x [grid·grid, width] (channels-last) -> [grid·grid, out]. */
    public float[] forward(float[] x, int grid) {
        int n = grid * grid;
        float[] y = conv1.forward(x, grid, grid);
        norm1.forward(y, y, n);
        y = conv2.forward(y, grid, grid);
        norm2.forward(y, y, n);
        return y;
    }
}
