package ai.vl4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * {@code vl4j bench --train} on the tiny 1.3B-shaped fixture model (the numbers are not checked, only that every
 * setup and mode ran, and that what the JSON reports adds up); its options refused where they do not belong.
 */
class BenchTrainTest {
    private static final Path IMAGE = Fixtures.TESTDATA.resolve("train").resolve("data").resolve("images").resolve("dog_a.png");

    @Test
    void timesStageOneAndLoraInBothActivationModes() throws Exception {
        CliTest.Result r = CliTest.vl4j("bench", "--train", "-m", Fixtures.TINY_13B_MODEL.toString(), "-i", IMAGE.toString(), "--runs", "1",
                "--sample-tokens", "1", "--threads", "1", "--json", "--quiet");
        assertEquals(0, r.code(), r.err());
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertEquals("train", json.get("mode").asText());
        JsonNode configs = json.get("configs");
        assertEquals(4, configs.size(), r.out());
        String[] names = {"stage1", "stage1", "stage3_lora", "stage3_lora"};
        boolean[] recompute = {false, true, false, true};
        for (int i = 0; i < 4; i++) {
            JsonNode c = configs.get(i);
            assertEquals(names[i], c.get("name").asText());
            assertEquals(recompute[i], c.get("checkpoint_activations").asBoolean());
            assertEquals(i < 2 ? 0 : 8, c.get("lora_rank").asInt());
            assertTrue(c.get("trainable_params").asLong() > 0);
            assertTrue(c.get("seq_len").asInt() > c.get("supervised").asInt() && c.get("supervised").asInt() > 0, c.toString());
            double step = c.get("step_s").asDouble();
            double parts = c.get("forward_s").asDouble() + c.get("loss_s").asDouble() + c.get("backward_s").asDouble()
                    + c.get("optimizer_s").asDouble();
            assertTrue(step > 0 && parts > 0 && parts <= step * (1 + 1e-9), c.toString());
            assertEquals(c.get("seq_len").asDouble() / step, c.get("tokens_per_s").asDouble(), 1e-6 * c.get("tokens_per_s").asDouble());
            assertTrue(Double.isFinite(c.get("first_loss").asDouble()) && c.get("first_loss").asDouble() > 0);
            assertTrue(c.get("peak_heap_mb").asLong() > 0 && c.get("estimated_heap_mb").asLong() >= 0
                    && c.get("max_heap_mb").asLong() >= c.get("peak_heap_mb").asLong(), c.toString());
        }
    }

    @Test
    void trainingOptionsGoWithTrainAndTrainNeedsAnImage() {
        CliTest.Result r = CliTest.vl4j("bench", "-m", Fixtures.TINY_13B_MODEL.toString(), "--stages", "1");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--stages goes with --train"), r.err());
        r = CliTest.vl4j("bench", "--train", "-m", Fixtures.TINY_13B_MODEL.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--image"), r.err());
        r = CliTest.vl4j("bench", "--train", "-m", Fixtures.TINY_13B_MODEL.toString(), "-i", IMAGE.toString(), "--gen-tokens", "4");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--gen-tokens is for inference"), r.err());
        r = CliTest.vl4j("bench", "--train", "-m", Fixtures.TINY_13B_MODEL.toString(), "-i", IMAGE.toString(), "--stages", "2");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--stages takes 1"), r.err());
    }
}
