package ai.vl4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.vl4j.llm.LlamaConfig;
import ai.vl4j.tensor.DType;
import org.junit.jupiter.api.Test;

class PipelineBenchmarkTest {

    /** The KV bytes a decode step reads, against a step-by-step count: step i attends over prompt + 1 + i positions. */
    @Test
    void kvBytesPerDecodeStepAveragesTheGrowingCache() {
        LlamaConfig cfg = new LlamaConfig(2048, 5632, 24, 16, 16, 102400, 16384, 1e-6f, 10000f, false);
        int prompt = 608;
        for (int gen : new int[] {1, 64, 65}) {
            for (DType precision : new DType[] {DType.F32, DType.BF16}) {
                long total = 0;
                for (int i = 0; i < gen; i++) {
                    total += 24L * 2 * 2048 * precision.size * (prompt + 1 + i);     // layers × (K and V) × kvDim
                }
                assertEquals((double) total / gen, PipelineBenchmark.kvBytesPerDecodeStep(cfg, precision, prompt, gen), 1.0,
                        gen + " steps, " + precision);
            }
        }
        // the 1.3B model at 608 + 64 tokens with a float32 cache: ≈ 252 MB a step, what the attention kernels stream
        assertEquals(251_854_848, PipelineBenchmark.kvBytesPerDecodeStep(cfg, DType.F32, prompt, 64));
    }
}
