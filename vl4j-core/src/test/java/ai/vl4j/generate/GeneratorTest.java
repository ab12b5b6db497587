package ai.vl4j.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.vl4j.Fixtures;
import ai.vl4j.text.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The decoding loop with a scripted "model": stop rules, budget, streaming. */
class GeneratorTest {
    static Tokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = Fixtures.tokenizer();
    }

    /** Logits that make `id` the argmax. */
    static float[] pick(int id) {
        float[] logits = new float[102400];
        logits[id] = 10f;
        return logits;
    }

    @Test
    void stopsAtEndOfSentenceWithoutEmittingIt() {
        int[] script = {17464, 1843, 100001, 999};   // "Hello", " world", EOS, never reached
        List<Integer> fed = new ArrayList<>();
        List<String> pieces = new ArrayList<>();
        Generator.Outcome out = Generator.run(pick(script[0]), id -> {
            fed.add(id);
            return pick(script[fed.size()]);
        }, tokenizer.eosId(), 10, SamplingOptions.GREEDY, tokenizer.streamDecoder(true), (id, text) -> pieces.add(text));
        assertArrayEquals(new int[] {17464, 1843}, out.tokenIds());
        assertEquals(FinishReason.STOP, out.finishReason());
        assertEquals("Hello world", out.text());
        assertEquals(List.of("Hello", " world"), pieces);
        assertEquals(List.of(17464, 1843), fed, "the model is fed each generated token, not EOS");
    }

    @Test
    void stopsWhenTheBudgetIsSpentWithoutAnExtraForwardPass() {
        List<Integer> fed = new ArrayList<>();
        Generator.Outcome out = Generator.run(pick(5), id -> {
            fed.add(id);
            return pick(5);
        }, tokenizer.eosId(), 3, SamplingOptions.GREEDY, tokenizer.streamDecoder(true), TokenListener.NONE);
        assertArrayEquals(new int[] {5, 5, 5}, out.tokenIds());
        assertEquals(FinishReason.LENGTH, out.finishReason());
        assertEquals(2, fed.size());
    }

    @Test
    void listenerCanStopTheGenerationAfterAnyToken() {
        List<Integer> fed = new ArrayList<>();
        List<String> pieces = new ArrayList<>();
        Generator.Outcome out = Generator.run(pick(17464), id -> {
            fed.add(id);
            return pick(1843);
        }, tokenizer.eosId(), 10, SamplingOptions.GREEDY, tokenizer.streamDecoder(true), new TokenListener() {
            @Override
            public void onToken(int id, String text) {
                pieces.add(text);
            }

            @Override
            public boolean stopRequested() {
                return pieces.size() == 2;   // e.g. Ctrl-C pressed while the second token streamed
            }
        });
        assertArrayEquals(new int[] {17464, 1843}, out.tokenIds());
        assertEquals(FinishReason.CANCELLED, out.finishReason());
        assertEquals("Hello world", out.text());
        assertEquals(List.of(17464), fed, "no forward pass after the stop");
    }

    @Test
    void zeroBudgetGeneratesNothing() {
        Generator.Outcome out = Generator.run(pick(5), id -> pick(5), tokenizer.eosId(), 0, SamplingOptions.GREEDY,
                tokenizer.streamDecoder(true), TokenListener.NONE);
        assertEquals(0, out.tokenIds().length);
        assertEquals(FinishReason.LENGTH, out.finishReason());
    }

    @Test
    void repetitionPenaltyChangesTheGreedyPath() {
        // two near-equal candidates: without a penalty the first repeats; with one, the second gets its turn,
        // then both are penalised once (per distinct id, not per occurrence, as HF) and the first leads again
        float[] logits = new float[102400];
        logits[10] = 2.0f;
        logits[11] = 1.9f;
        SamplingOptions penalised = new SamplingOptions(4, 0f, 50, 1f, 1.2f, null);
        Generator.Outcome out = Generator.run(logits.clone(), id -> logits.clone(), tokenizer.eosId(), 4, penalised,
                tokenizer.streamDecoder(true), TokenListener.NONE);
        assertArrayEquals(new int[] {10, 11, 10, 10}, out.tokenIds());
        Generator.Outcome plain = Generator.run(logits.clone(), id -> logits.clone(), tokenizer.eosId(), 4, SamplingOptions.GREEDY,
                tokenizer.streamDecoder(true), TokenListener.NONE);
        assertArrayEquals(new int[] {10, 10, 10, 10}, plain.tokenIds());
    }
}
