package ai.vl4j.bench.jmh;

import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.Widen;
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
 * One decode step of attention over a KV cache (the 1.3B model's layer: 16 heads of 128): one query row per
 * head against `keys` cached positions, in {@code KvCache}'s layouts (Kᵀ in tiles, values as rows, per kv head). The
 * step reads 2·keys·2048 values (4 bytes each in a float32 cache, 2 in a bfloat16 one: {@code kv}), so bytes /
 * time is the cache-read bandwidth it reaches. {@code layers} copies of the cache are visited in turn so that,
 * like the model's 24 layers, they do not all stay in the CPU caches.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx8g"})
public class DecodeAttentionBenchmark {
    private static final int HEADS = 16;
    private static final int HD = 128;
    private static final int LAYERS = 24;

    @Param({"640", "2048"})
    public int keys;

    @Param({"f32", "bf16"})
    public String kv;

    private float[][] keysT;
    private float[][] values;
    private short[][] keysT16;
    private short[][] values16;
    private float[] query;
    private float[] out;
    private int stride;
    private int layer;

    @Setup(Level.Trial)
    public void setUp() {
        Random rnd = new Random(2);
        stride = (keys + Attention.BK - 1) / Attention.BK * Attention.BK;
        keysT = new float[LAYERS][HEADS * HD * stride];
        values = new float[LAYERS][HEADS * HD * stride];
        query = new float[HEADS * HD];
        out = new float[HEADS * HD];
        for (int l = 0; l < LAYERS; l++) {
            for (int i = 0; i < keysT[l].length; i++) {
                keysT[l][i] = (float) rnd.nextGaussian();
            }
            for (int i = 0; i < values[l].length; i++) {
                values[l][i] = (float) rnd.nextGaussian();
            }
        }
        for (int i = 0; i < query.length; i++) {
            query[i] = (float) rnd.nextGaussian();
        }
        if (kv.equals("bf16")) {
            keysT16 = new short[LAYERS][];
            values16 = new short[LAYERS][];
            for (int l = 0; l < LAYERS; l++) {
                keysT16[l] = toBf16(keysT[l]);
                values16[l] = toBf16(values[l]);
            }
            keysT = null;
            values = null;
        }
    }

    private static short[] toBf16(float[] v) {
        short[] s = new short[v.length];
        for (int i = 0; i < v.length; i++) {
            s[i] = Widen.floatToBf16(v[i]);
        }
        return s;
    }

    /** One layer's step; successive calls walk the layers. */
    @Benchmark
    public float[] step() {
        int l = layer;
        layer = (layer + 1) % LAYERS;
        if (keysT16 != null) {
            Attention.decodeBf16(new Attention.Operand(query, HEADS * HD, 0), keysT16[l], HD * stride, values16[l], HD, HD * stride,
                    new Attention.Operand(out, HEADS * HD, 0), keys, HEADS, HEADS, HD, (float) (1 / Math.sqrt(HD)));
            return out;
        }
        Attention.multiHead(new Attention.Operand(query, HEADS * HD, 0), new Attention.KeysT(keysT[l], HD * stride),
                new Attention.Operand(values[l], HD, 0, HD * stride), new Attention.Operand(out, HEADS * HD, 0),
                1, keys, HEADS, HEADS, HD, (float) (1 / Math.sqrt(HD)), keys - 1, null);
        return out;
    }
}
