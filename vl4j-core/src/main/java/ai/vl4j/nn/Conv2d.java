package ai.vl4j.nn;

import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Im2Col;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.Tensor;
import java.util.List;

/**
 * nn.Conv2d on channels-last maps: x [h, w, in] -> y [outH, outW, out], as one matrix product of the
 * unfolded neighbourhoods with the weight [out, in, k, k] seen as [out, in·k·k].
 */
public final class Conv2d implements Module {
    private final Parameter weight; // [out, in, k, k], read as [out, in·k·k]
    private final Parameter bias;   // [out] or null
    private final int in;
    private final int k;
    private final int stride;
    private final int pad;

    public Conv2d(Tensor weight, Tensor bias, int stride, int pad) {
        this.in = (int) weight.dim(1);
        this.k = (int) weight.dim(2);
        this.weight = Parameter.matrix(weight, weight.reshape(weight.dim(0), weight.dim(1) * k * k));
        this.bias = bias == null ? null : Parameter.vector(bias);
        this.stride = stride;
        this.pad = pad;
    }

    /** Loads {@code name} [out, in, k, k] (no bias). */
    public static Conv2d load(Weights w, String name, int in, int out, int k, int stride, int pad) {
        return new Conv2d(w.require(name, out, in, k, k), null, stride, pad);
    }

    public int out() {
        return weight.matrix().rows();
    }

    @Override
    public List<Parameter> parameters() {
        return bias == null ? List.of(weight) : List.of(weight, bias);
    }

    public int outSize(int size) {
        return Im2Col.outSize(size, k, stride, pad);
    }

    /** y [outH·outW, out] of x [h, w, in]. */
    public float[] forward(float[] x, int h, int w) {
        int rows = outSize(h) * outSize(w);
        float[] cols = k == 1 && stride == 1 && pad == 0 ? x : Im2Col.unfold(x, h, w, in, k, stride, pad);
        float[] y = new float[rows * out()];
        MatMul.linear(cols, rows, weight.matrix(), bias == null ? null : bias.values(), y);
        return y;
    }
}
