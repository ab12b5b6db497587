package ai.vl4j.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.vl4j.Fixtures;
import ai.vl4j.generate.Sampler;
import ai.vl4j.tensor.DType;
import ai.vl4j.vlm.DeepSeekVl;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** One batched decode step equals the sequences' own steps, whatever their lengths, with either cache precision. */
class BatchedDecodeTest {
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16"})
    void batchedStepsEqualSingleSteps(DType kv) {
        try (DeepSeekVl vl = DeepSeekVl.load(Fixtures.TINY_13B_MODEL)) {
            LlamaModel llm = vl.languageModel();
            int h = llm.config().hiddenSize();
            String[] prompts = {"Hello there, how are you?", "One", "A much longer prompt about cats, dogs, mice and the weather in spring."};
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
}
