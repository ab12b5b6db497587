package ai.vl4j.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.vl4j.Fixtures;
import ai.vl4j.generate.Sampler;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.vlm.DeepSeekVl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * One batched decode step equals the sequences' own steps, whatever their lengths, with either cache precision,
 * for a batch the 1–4-vector kernels serve and one the 5–8-vector kernels serve, with stored and quantized weights.
 */
class BatchedDecodeTest {
    private static final String[] PROMPTS = {"Hello there, how are you?", "One", "A much longer prompt about cats, dogs, mice and the weather in spring.",
        "Two words", "What is in the picture on the left?", "Count: one, two, three"};

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16"})
    void batchedStepsEqualSingleSteps(DType kv) {
        try (DeepSeekVl vl = DeepSeekVl.load(Fixtures.TINY_13B_MODEL)) {
            check(vl, kv, java.util.Arrays.copyOf(PROMPTS, 3));
            check(vl, kv, PROMPTS);
        }
    }

    /**
     * Q8_0 only: Q4_0 rounds every product's input to int8, so a last-bit difference between two runs (the Vector
     * API leaves the order of a lane reduction open, and interpreted and compiled code sum differently) can move a
     * value across a rounding boundary and the logits by ~1e-3. Its kernels are compared product by product
     * instead (KernelsTest, QuantizationTest).
     */
    @Test
    void batchedQuantizedStepsEqualSingleSteps() {
        try (DeepSeekVl vl = DeepSeekVl.load(Fixtures.TINY_13B_MODEL, QuantType.Q8_0)) {
            check(vl, DType.F32, PROMPTS);
        }
    }

    private static void check(DeepSeekVl vl, DType kv, String[] prompts) {
        LlamaModel llm = vl.languageModel();
        int h = llm.config().hiddenSize();
        int b = prompts.length;
        KvCache[] single = new KvCache[b];
        KvCache[] batched = new KvCache[b];
        int[] next = new int[b];
        for (int i = 0; i < b; i++) {
            int[] ids = vl.tokenizer().encode(prompts[i], true);
            single[i] = new KvCache(llm.config(), ids.length + 8, kv);
            batched[i] = new KvCache(llm.config(), ids.length + 8, kv);
            float[] logits = llm.logits(llm.forward(llm.embed(ids), ids.length, single[i]), ids.length - 1);
            llm.forward(llm.embed(ids), ids.length, batched[i]);
            next[i] = Sampler.argmax(logits);
        }
        for (int step = 0; step < 5; step++) {
            float[] hidden = llm.forwardBatch(llm.embed(next), batched);
            for (int i = 0; i < b; i++) {
                float[] one = llm.logits(llm.forward(llm.embed(new int[] {next[i]}), 1, single[i]), 0);
                float[] fromBatch = llm.logits(hidden, i);
                for (int j = 0; j < one.length; j++) {
                    assertEquals(one[j], fromBatch[j], 1e-4, "step " + step + " sequence " + i + " logit " + j);
                }
                next[i] = Sampler.argmax(fromBatch);
                assertEquals(Sampler.argmax(one), next[i]);
                assertEquals(single[i].length(), batched[i].length());
            }
        }
        assertThrows(IllegalArgumentException.class, () -> llm.forwardBatch(new float[2 * h], new KvCache[] {batched[0], batched[0]}));
    }
}
