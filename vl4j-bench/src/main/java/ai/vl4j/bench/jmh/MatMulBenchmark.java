package ai.vl4j.bench.jmh;

import ai.vl4j.bench.Roofline;
import ai.vl4j.tensor.Backends;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.MatMul;
import ai.vl4j.tensor.Parallel;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.tensor.QuantizedTensor;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.tensor.WeightMatrix;
import java.lang.foreign.Arena;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The linear-layer kernel on DeepSeek-VL-1.3B shapes, "n x k x m" = input rows × inputs × outputs.
 * GEMM shapes (prefill, SigLIP MLP, SAM qkv) are bound by arithmetic, GEMV shapes (decode; the lm_head one is
 * larger than any cache) by memory. Besides calls per second, JMH prints three rates as secondary results:
 * {@code gflops} (2·n·k·m per call), {@code gbytes} (weight bytes read per call) and {@code pct_of_fma_peak}
 * (gflops as a percentage of the f32 FMA peak that {@link Roofline#fmaPeak} measured in the same fork, on the
 * same threads, just before; JMH labels it ops/s). Run with scripts/jmh.sh, e.g.
 * {@code scripts/jmh.sh MatMulBenchmark -p shape=608x2048x5632 -p weights=bf16 -p backend=java,dnnl} (oneDNN's
 * bfloat16 products: {@code -p backend=dnnl -p compute=bf16}; {@code pct_of_fma_peak} stays against the float32
 * peak, so it passes 100 where the bfloat16 dot product's twice that rate pays); the Java
 * kernels' other vector shapes with {@code -jvmArgsAppend -XX:MaxVectorSize=32} (AVX2 on an AVX-512 host) or
 * {@code 16} (the 128-bit path of NEON hosts), the other register tile with {@code -Dvl4j.gemm.tile=6x3}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx8g"})
public class MatMulBenchmark {
    @Param({"608x2048x5632", "576x1024x4096", "4096x768x2304", "1x2048x5632", "1x2048x102400", "4x2048x5632", "8x2048x5632"})
    public String shape;

    @Param({"bf16", "f16", "f32", "q8_0", "q4_0"})
    public String weights;

    /** Who multiplies GEMM shapes (GEMV shapes always stream through the Java kernels). */
    @Param({"java", "dnnl"})
    public String backend;

    /** The inputs' precision on GEMM shapes: f32, or bf16 (oneDNN with a bfloat16 dot product only; else f32, said). */
    @Param({"f32"})
    public String compute;

    /** Work done, reported by JMH per second of the measurement. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Rates {
        public double gflops;
        public double gbytes;
        public double pct_of_fma_peak;
    }

    private double gflopPerCall;
    private double peakGflops;

    private float[] x;
    private float[] out;
    private WeightMatrix w;
    private Arena arena;

    @Setup(Level.Trial)
    public void setUp() {
        String[] p = shape.split("x");
        int n = Integer.parseInt(p[0]), k = Integer.parseInt(p[1]), m = Integer.parseInt(p[2]);
        Random rnd = new Random(1);
        float[] values = new float[m * k];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (rnd.nextGaussian() * 0.02);
        }
        Tensor dense = Tensor.ofFloats("w", values, m, k).convertTo(DType.BF16);
        arena = Arena.ofShared();
        w = weights.startsWith("q") ? QuantizedTensor.quantize(dense, QuantType.parse(weights), arena)
                : dense.convertTo(DType.valueOf(weights.toUpperCase(java.util.Locale.ROOT)));
        x = new float[n * k];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        out = new float[n * m];
        gflopPerCall = 2.0 * n * k * m / 1e9;
        Backends.select(Backends.Choice.parse(backend));
        Backends.selectCompute(Backends.Compute.parse(compute), System.out::println);
        System.out.printf("%n%s%n", Backends.report());
        peakGflops = Roofline.fmaPeak(5);
        System.out.printf("%nf32 FMA peak on %d threads: %.1f GFLOP/s%n", Parallel.threads(), peakGflops);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float[] linear(Rates rates) {
        MatMul.linear(x, x.length / w.cols(), w, null, out);
        rates.gflops += gflopPerCall;
        rates.gbytes += w.bytes() / 1e9;
        rates.pct_of_fma_peak += 100 * gflopPerCall / peakGflops;
        return out;
    }
}
