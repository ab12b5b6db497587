package ai.vl4j.tensor;

/**
 * The pure-Java backend: {@link Gemm}'s register-blocked Vector API kernels, for every weight kind (dense,
 * quantized, heap float32). Each output element is one chain of fused multiply-adds in index order, so results
 * do not depend on the register tile, the host's vector width or the thread count.
 */
public final class JavaBackend implements ComputeBackend {
    public static final JavaBackend INSTANCE = new JavaBackend();

    private JavaBackend() {
    }

    @Override
    public String name() {
        return "java";
    }

    @Override
    public String describe() {
        return "java (Vector API, tile " + Gemm.tile() + ")";
    }

    @Override
    public void linear(float[] x, int n, WeightMatrix w, float[] bias, float[] out) {
        Gemm.linear(x, n, w.cols(), w, bias, out);
    }

    @Override
    public void backwardInput(float[] dy, int n, WeightMatrix w, float[] dx) {
        Gemm.timesWeight(dy, n, w, dx);
    }

    @Override
    public void backwardWeight(float[] dy, float[] x, int n, int m, int k, float[] dw) {
        Gemm.accumulateTransposed(dy, x, n, m, k, dw);
    }
}
