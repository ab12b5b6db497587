package ai.vl4j.bench.jmh;

import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.AttentionBackward;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The attention backward kernel (dq, dk, dv from the forward's output and log-sum-exp): a 1.3B decoder layer's
 * causal 640-token training sample (16 heads of 128) and SigLIP's 576 tokens (16 heads of 64, not causal).
 * FLOPs ≈ 10·tokens²·heads·headDim (half for causal): S, dP, dQ, dK and dV.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class AttentionBackwardBenchmark {
    @Param({"640x16x128c", "576x16x64"})
    public String shape;

    private float[] q, k, v, out, dOut, lse, dq, dk, dv;
    private int n;
    private int heads;
    private int hd;
    private int causalPos0;

    @Setup(Level.Trial)
    public void setUp() {
        causalPos0 = shape.endsWith("c") ? 0 : -1;
        String[] p = shape.replace("c", "").split("x");
        n = Integer.parseInt(p[0]);
        heads = Integer.parseInt(p[1]);
        hd = Integer.parseInt(p[2]);
        Random rnd = new Random(1);
        q = gaussian(n * heads * hd, rnd);
        k = gaussian(n * heads * hd, rnd);
        v = gaussian(n * heads * hd, rnd);
        dOut = gaussian(n * heads * hd, rnd);
        out = new float[n * heads * hd];
        lse = new float[heads * n];
        dq = new float[n * heads * hd];
        dk = new float[n * heads * hd];
        dv = new float[n * heads * hd];
        Attention.multiHead(op(q), op(k), op(v), op(out), n, n, heads, heads, hd, scale(), causalPos0, null, lse);
    }

    @Benchmark
    public float[] backward() {
        AttentionBackward.multiHead(op(q), op(k), op(v), op(out), op(dOut), lse, op(dq), op(dk), op(dv),
                n, n, heads, heads, hd, scale(), causalPos0);
        return dq;
    }

    private Attention.Operand op(float[] x) {
        return new Attention.Operand(x, heads * hd, 0);
    }

    private float scale() {
        return (float) (1 / Math.sqrt(hd));
    }

    private static float[] gaussian(int size, Random rnd) {
        float[] x = new float[size];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }
}
