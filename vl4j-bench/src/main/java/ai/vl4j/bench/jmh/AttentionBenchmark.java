package ai.vl4j.bench.jmh;

import ai.vl4j.tensor.Attention;
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
 * The fused attention kernel: SigLIP (576 tokens, 16 heads of 64), SAM's global blocks (4096 tokens, 12 heads
 * of 64) and a causal 608-token prefill (16 heads of 128). FLOPs = 4·tokens²·heads·headDim (half for causal).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class AttentionBenchmark {
    @Param({"576x16x64", "4096x12x64", "608x16x128c"})
    public String shape;

    private float[] qkv;
    private float[] out;
    private int n;
    private int heads;
    private int hd;
    private boolean causal;

    @Setup(Level.Trial)
    public void setUp() {
        causal = shape.endsWith("c");
        String[] p = shape.replace("c", "").split("x");
        n = Integer.parseInt(p[0]);
        heads = Integer.parseInt(p[1]);
        hd = Integer.parseInt(p[2]);
        Random rnd = new Random(1);
        qkv = new float[n * 3 * heads * hd];
        for (int i = 0; i < qkv.length; i++) {
            qkv[i] = (float) rnd.nextGaussian();
        }
        out = new float[n * heads * hd];
    }

    @Benchmark
    public float[] attend() {
        int w = 3 * heads * hd;
        Attention.multiHead(new Attention.Operand(qkv, w, 0), new Attention.Operand(qkv, w, heads * hd),
                new Attention.Operand(qkv, w, 2 * heads * hd), new Attention.Operand(out, heads * hd, 0),
                n, n, heads, heads, hd, (float) (1 / Math.sqrt(hd)), causal ? 0 : -1);
        return out;
    }
}
