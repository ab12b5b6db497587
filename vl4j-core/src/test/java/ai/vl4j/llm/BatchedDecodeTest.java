package ai.vl4j.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.vl4j.Fixtures;
import ai.vl4j.generate.Sampler;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.vlm.DeepSeekVl;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Batch invariance: a sequence's logits are bit-identical whether it is decoded alone ({@link LlamaModel#decodeStep})
 * or in a batch ({@link LlamaModel#forwardBatch}) of any size (1 to 9: the 4-vector tiles, the 8-vector tile where
 * the host has it, and more than one group) and composition (other prompts, other positions, any order), with
 * either cache precision, for stored BF16 and F16 weights and Q8_0 and Q4_0. The reference runs first, so the two
 * sides also run in different JIT tiers: the kernels' results may not depend on that either.
 */
class BatchedDecodeTest {
    private static final String[] PROMPTS = {"Hello there, how are you?", "One", "A much longer prompt about cats, dogs, mice and the weather in spring.",
        "Two words", "What is in the picture on the left?", "Count: one, two, three", "x", "The quick brown fox jumps over the lazy dog.",
        "Zwei Wörter"};
    /** Per step, the sizes of the batches the sequences are split into (in a shuffled order): every size 1..9. */
    private static final int[][] GROUPS = {{9}, {8, 1}, {7, 2}, {6, 3}, {5, 4}};

    static Stream<Arguments> configurations() {
        return Stream.of(
                Arguments.of(Fixtures.TINY_13B_MODEL, null, DType.F32),
                Arguments.of(Fixtures.TINY_13B_MODEL, null, DType.BF16),
                Arguments.of(Fixtures.TINY_7B_MODEL, null, DType.F32),
                Arguments.of(Fixtures.TINY_13B_MODEL, QuantType.Q8_0, DType.F32),
                Arguments.of(Fixtures.TINY_13B_MODEL, QuantType.Q4_0, DType.BF16));
    }

    @ParameterizedTest
    @MethodSource("configurations")
    void batchedStepsEqualSingleSteps(Path model, QuantType quant, DType kv) {
        try (DeepSeekVl vl = quant == null ? DeepSeekVl.load(model) : DeepSeekVl.load(model, quant)) {
            LlamaModel llm = vl.languageModel();
            int n = PROMPTS.length;
            int steps = GROUPS.length;
            int[][] prompts = new int[n][];
            for (int i = 0; i < n; i++) {
                prompts[i] = vl.tokenizer().encode(PROMPTS[i], true);
            }
            // alone: each sequence prefilled, then decoded greedily one step at a time
            float[][][] alone = new float[n][steps][];
            for (int i = 0; i < n; i++) {
                KvCache cache = new KvCache(llm.config(), prompts[i].length + steps + 1, kv);
                int next = Sampler.argmax(llm.logits(llm.forward(llm.embed(prompts[i]), prompts[i].length, cache), prompts[i].length - 1));
                for (int step = 0; step < steps; step++) {
                    alone[i][step] = llm.decodeStep(next, cache).clone();
                    next = Sampler.argmax(alone[i][step]);
                }
            }
            // batched: the same sequences, each step split into batches of other sizes, in a shuffled order
            KvCache[] caches = new KvCache[n];
            int[] next = new int[n];
            for (int i = 0; i < n; i++) {
                caches[i] = new KvCache(llm.config(), prompts[i].length + steps + 1, kv);
                next[i] = Sampler.argmax(llm.logits(llm.forward(llm.embed(prompts[i]), prompts[i].length, caches[i]), prompts[i].length - 1));
            }
            Random random = new Random(7);
            for (int step = 0; step < steps; step++) {
                List<Integer> order = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    order.add(i);
                }
                Collections.shuffle(order, random);
                int at = 0;
                for (int size : GROUPS[step]) {
                    int[] members = order.subList(at, at + size).stream().mapToInt(Integer::intValue).toArray();
                    at += size;
                    KvCache[] batch = Arrays.stream(members).mapToObj(i -> caches[i]).toArray(KvCache[]::new);
                    int[] tokens = Arrays.stream(members).map(i -> next[i]).toArray();
                    float[] hidden = llm.forwardBatch(llm.embed(tokens), batch);
                    float[] logits = llm.logitsOfRows(hidden, size);
                    int vocab = llm.config().vocabSize();
                    for (int b = 0; b < size; b++) {
                        int i = members[b];
                        float[] mine = Arrays.copyOfRange(logits, b * vocab, (b + 1) * vocab);
                        assertArrayEquals(alone[i][step], mine, "step " + step + ", sequence " + i + " in a batch of " + size);
                        next[i] = Sampler.argmax(mine);
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                assertEquals(prompts[i].length + steps, caches[i].length());
            }
            int h = llm.config().hiddenSize();
            assertThrows(IllegalArgumentException.class, () -> llm.forwardBatch(new float[2 * h], new KvCache[] {caches[0], caches[0]}));
        }
    }
}
