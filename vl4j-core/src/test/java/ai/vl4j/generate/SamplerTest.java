package ai.vl4j.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SamplerTest {
    static final float NEG = Float.NEGATIVE_INFINITY;

    @Test
    void greedyTakesTheLowestIdOnTies() {
        assertEquals(1, Sampler.argmax(new float[] {0f, 3f, 3f, -1f}));
        Sampler greedy = new Sampler(SamplingOptions.GREEDY);
        assertEquals(2, greedy.next(new float[] {0f, 1f, 5f}, new int[0], 0));
    }

    @Test
    void repetitionPenaltyActsOnGeneratedIdsOnce() {
        float[] logits = {2f, -2f, 1f};
        Sampler.applyRepetitionPenalty(logits, new int[] {0, 1, 0, 0}, 4, 2f);
        assertArrayEquals(new float[] {1f, -4f, 1f}, logits);
    }

    @Test
    void topKKeepsTiesWithTheKth() {
        float[] logits = {1f, 5f, 3f, 3f, 0f};
        Sampler.keepTopK(logits, 2);
        assertArrayEquals(new float[] {NEG, 5f, 3f, 3f, NEG}, logits);
    }

    @Test
    void topPDropsTheTailButKeepsTheBest() {
        // probabilities ≈ 0.665, 0.245, 0.090
        float[] logits = {2f, 1f, 0f};
        Sampler.keepTopP(logits, 0.8f);
        assertArrayEquals(new float[] {2f, 1f, NEG}, logits);
        float[] single = {2f, 1f, 0f};
        Sampler.keepTopP(single, 0.01f);
        assertArrayEquals(new float[] {2f, NEG, NEG}, single);
    }

    @Test
    void seededSamplingIsReproducibleAndFollowsTheDistribution() {
        SamplingOptions opts = new SamplingOptions(10, 1f, 0, 1f, 1f, 42L);
        int[] counts = new int[3];
        Sampler a = new Sampler(opts);
        Sampler b = new Sampler(opts);
        for (int i = 0; i < 20_000; i++) {
            int x = a.next(new float[] {0f, (float) Math.log(2), (float) Math.log(7)}, new int[0], 0);
            assertEquals(x, b.next(new float[] {0f, (float) Math.log(2), (float) Math.log(7)}, new int[0], 0));
            counts[x]++;
        }
        assertEquals(0.1, counts[0] / 20_000.0, 0.01);
        assertEquals(0.2, counts[1] / 20_000.0, 0.01);
        assertEquals(0.7, counts[2] / 20_000.0, 0.01);
    }

    @Test
    void lowTemperatureApproachesGreedy() {
        Sampler s = new Sampler(new SamplingOptions(10, 0.01f, 50, 1f, 1f, 1L));
        for (int i = 0; i < 100; i++) {
            assertEquals(2, s.next(new float[] {0f, 1f, 1.5f}, new int[0], 0));
        }
    }

    @Test
    void badOptionsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(10, -1f, 50, 1f, 1f, null));
        assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(10, 1f, 50, 0f, 1f, null));
        assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(10, 1f, 50, 1f, 0f, null));
        assertTrue(new SamplingOptions(0, 0f, 0, 1f, 1f, null).greedy());
    }
}
