package ai.vl4j.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.vl4j.Fixtures;
import ai.vl4j.generate.Sampler;
import ai.vl4j.tensor.DType;
import ai.vl4j.vlm.DeepSeekVl;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A prompt prefilled in pieces (as the server interleaves a long prompt with others' decode steps, or after a
 * cached prefix: then the last piece may be a single row) gives the bits of one whole prefill: the logits after
 * the prompt, and every decode step after it.
 */
class PrefillPiecesTest {

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16"})
    void piecesGiveTheWholePrefillsBits(DType kv) {
        try (DeepSeekVl vl = DeepSeekVl.load(Fixtures.TINY_13B_MODEL)) {
            LlamaModel llm = vl.languageModel();
            int h = llm.config().hiddenSize();
            int[] ids = vl.tokenizer().encode("A much longer prompt about cats, dogs, mice and the weather in spring, and more.", true);
            int t = ids.length;
            float[][] whole = run(llm, kv, ids, new int[] {0, t});
            for (int[] cuts : new int[][] {{0, t - 1, t}, {0, 1, 2, 7, t}, {0, 5, t - 3, t}}) {
                float[][] pieces = run(llm, kv, ids, cuts);
                for (int step = 0; step < whole.length; step++) {
                    assertArrayEquals(whole[step], pieces[step], "cuts " + Arrays.toString(cuts) + ", step " + step + " (hidden " + h + ")");
                }
            }
        }
    }

    /** The logits after the prompt (run in the pieces between cuts), then after each of 3 greedy decode steps. */
    private static float[][] run(LlamaModel llm, DType kv, int[] ids, int[] cuts) {
        KvCache cache = new KvCache(llm.config(), ids.length + 4, kv);
        float[] hidden = null;
        int last = 0;
        for (int c = 0; c + 1 < cuts.length; c++) {
            int[] piece = Arrays.copyOfRange(ids, cuts[c], cuts[c + 1]);
            hidden = llm.forward(llm.embed(piece), piece.length, cache);
            last = piece.length - 1;
        }
        float[][] logits = new float[4][];
        logits[0] = llm.logits(hidden, last);
        for (int step = 1; step < 4; step++) {
            logits[step] = llm.decodeStep(Sampler.argmax(logits[step - 1]), cache).clone();
        }
        return logits;
    }
}
