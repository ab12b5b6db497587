package ai.vl4j.zeroshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.bench.ZeroShotBenchmark;
import ai.vl4j.image.RgbImage;
import ai.vl4j.nn.Activation;
import ai.vl4j.tensor.DType;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Synthetic SigLIP and CLIP checkpoints (the benchmark's models) load and classify; the benchmark reports every stage. */
class SyntheticZeroShotTest {
    @TempDir
    Path tmp;

    /**
     * Small sizes in the presets' layouts (CLIP's towers of different widths, SigLIP's of one), and an image side that
     * is not a multiple of the patch (30 / 8 → 3 patches a side, as so400m's 384 / 14 → 27).
     */
    static SyntheticZeroShot.Preset tiny(String family) {
        boolean clip = family.equals("clip");
        Activation act = clip ? Activation.QUICK_GELU : Activation.GELU_TANH;
        return new SyntheticZeroShot.Preset(family, new TowerConfig(32, 64, 2, 4, 1e-6f, act, 600, clip ? 77 : 64, 2, 0, 0),
                new TowerConfig(clip ? 48 : 32, 96, 2, 4, 1e-6f, act, 0, 0, 0, 30, 8), clip ? 16 : 0);
    }

    @Test
    void syntheticModelsLoadAndTheBenchmarkTimesEveryStage() throws Exception {
        for (String family : List.of("siglip", "clip")) {
            Path dir = SyntheticZeroShot.write(tmp.resolve(family), tiny(family), DType.BF16, 7, (done, total) -> { });
            try (ZeroShotClassifier zs = ZeroShotClassifier.load(dir)) {
                assertEquals(family, zs.family());
                RgbImage image = new RgbImage(40, 20, new byte[40 * 20 * 3]);
                ZeroShotBenchmark.Report r = ZeroShotBenchmark.run(zs, image, 30, 2, msg -> { });
                assertEquals(30, r.labels());
                assertEquals(List.of("preprocess", "image_encode", "scoring", "classify"), List.copyOf(r.stages().keySet()));
                assertTrue(r.labelSetS() > 0 && r.stages().get("classify").median() > 0);
            }
        }
    }

    @Test
    void syntheticLabelsAreDistinctLetterWords() {
        List<String> labels = ZeroShotBenchmark.syntheticLabels(1000);
        assertEquals(1000, new HashSet<>(labels).size());
        assertEquals("thing a", labels.get(0));
        assertEquals("thing ba", labels.get(26));
        assertTrue(labels.stream().allMatch(l -> l.matches("thing [a-z]+")));
    }
}
