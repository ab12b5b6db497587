package ai.vl4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.sam.AutomaticMaskGenerator;
import ai.vl4j.sam.Sam;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The SAM benchmark runs every stage on the tiny model and counts the generator's prompts (no timing is asserted). */
class SamBenchmarkTest {

    @Test
    void reportsEveryStageAndTheGeneratorsWork() {
        try (Sam sam = Sam.load(Fixtures.SAM_TINY.resolve("model"))) {
            AutomaticMaskGenerator.Options d = AutomaticMaskGenerator.Options.DEFAULTS;
            AutomaticMaskGenerator.Options amg = new AutomaticMaskGenerator.Options(5, 7, -1, 0.3, 1.0, 1.0, 1, 0.7,
                    d.cropOverlapRatio(), 2, 0);
            List<String> log = new ArrayList<>();
            SamBenchmark.Report r = SamBenchmark.run(sam, ImageLoader.load(Fixtures.SAM_TINY.resolve("images/synth_77x131.png")),
                    new SamBenchmark.Options(3, 2, amg), log::add);
            assertEquals(List.of("encoder", "prompt", "decoder", "amg"), List.copyOf(r.stages().keySet()));
            r.stages().values().forEach(s -> assertTrue(s.min() >= 0 && s.min() <= s.median() && s.median() <= s.max(), s.toString()));
            assertEquals(5 * 5 + 4 * 2 * 2, r.amgPrompts(), "the whole image's 5×5 grid and 2×2 in each of 4 crops");
            assertEquals(3, log.size(), "a warm-up and two timed runs");
            assertEquals(77, r.height());
            // the benchmark's prompts, shared with scripts/sam_torch_bench.py
            assertEquals(0.5 * 131, SamBenchmark.point(0, 131, 77)[0]);
            assertEquals(((0.5 + 0.381966) % 1.0) * 77, SamBenchmark.point(1, 131, 77)[1]);
        }
    }
}
