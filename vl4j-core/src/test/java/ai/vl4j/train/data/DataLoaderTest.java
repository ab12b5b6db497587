package ai.vl4j.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.InvalidInputException;
import ai.vl4j.vlm.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded order, batches across epochs, the mixer's ratio and determinism, and exact resume from a saved
 * cursor. Orders are checked through the draws themselves ({@code pick}, no tokenization) where many are needed.
 */
class DataLoaderTest {
    static final int TEXT_LINES = 10;
    static final int CAPTION_LINES = 7;
    @TempDir
    static Path dir;
    static SampleEncoder encoder;
    static TrainingData text;
    static TrainingData captions;

    @BeforeAll
    static void setUp() throws IOException {
        encoder = new SampleEncoder(Fixtures.tokenizer(), ModelConfig.load(Fixtures.TINY_13B_MODEL));
        Files.createDirectories(dir.resolve("images"));
        Files.copy(Fixtures.TESTDATA.resolve("formats/rgb.png"), dir.resolve("images/a.png"));
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < TEXT_LINES; i++) {
            lines.add("{\"text\": \"Plain text number " + i + ".\"}");
        }
        text = TrainingData.open(write("text.jsonl", lines), encoder, DataOptions.DEFAULT);
        lines.clear();
        for (int i = 0; i < CAPTION_LINES; i++) {
            lines.add("{\"images\": [\"images/a.png\"], \"text\": \"<image_placeholder>Caption number " + i + ".\"}");
        }
        captions = TrainingData.open(write("captions.jsonl", lines), encoder, DataOptions.DEFAULT);
    }

    @AfterAll
    static void tearDown() {
        text.close();
        captions.close();
    }

    @Test
    void fileOrderRunsOnAcrossEpochs() {
        DataLoader loader = DataLoader.of(text, 4, false, 99);
        List<Integer> lines = new ArrayList<>();
        for (int b = 0; b < 5; b++) {
            Batch batch = loader.nextBatch();
            assertEquals(4, batch.size());
            batch.samples().forEach(s -> lines.add(s.source().line()));
        }
        // 20 draws over 10 samples: two epochs in file order, batch 3 holding the end of one and the start of the next
        List<Integer> want = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            want.add(i % TEXT_LINES + 1);
        }
        assertEquals(want, lines);
        assertEquals(2, loader.cursor().epoch());
        assertEquals(0, loader.cursor().position());
    }

    @Test
    void shuffledEpochsArePermutationsFixedBySeed() {
        int[][] a = draws(DataLoader.of(text, 1, true, 7), 5 * TEXT_LINES);
        int[][] again = draws(DataLoader.of(text, 1, true, 7), 5 * TEXT_LINES);
        int[][] other = draws(DataLoader.of(text, 1, true, 8), 5 * TEXT_LINES);
        for (int e = 0; e < 5; e++) {
            int[] sorted = a[e].clone();
            Arrays.sort(sorted);
            int[] all = new int[TEXT_LINES];
            Arrays.setAll(all, i -> i);
            assertArrayEquals(all, sorted, "epoch " + e + " is a permutation");
            assertArrayEquals(a[e], again[e], "same seed, same order");
        }
        assertFalse(Arrays.deepEquals(a, other), "another seed, another order");
        assertFalse(Arrays.equals(a[0], a[1]), "each epoch its own order");
    }

    /** The main-source indices drawn, one row per epoch. */
    private static int[][] draws(DataLoader loader, int n) {
        int[][] out = new int[n / TEXT_LINES][TEXT_LINES];
        for (int k = 0; k < n; k++) {
            out[k / TEXT_LINES][k % TEXT_LINES] = loader.pick().index();
        }
        return out;
    }

    @Test
    void splitMixIsTheJdkSplittableRandomSequence() {
        // SplittableRandom(s).nextLong() is SplitMix64 from state s: the reference for the counter-based form
        for (long seed : new long[] {0, 1, -5, 0x123456789abcdefL}) {
            SplittableRandom r = new SplittableRandom(seed);
            for (int i = 0; i < 100; i++) {
                assertEquals(r.nextLong(), SplitMix.nth(seed, i), "seed " + seed + " output " + i);
            }
        }
        assertEquals(0xe220a8397b1dcdafL, SplitMix.nth(0, 0)); // SplitMix64's first output from state 0
    }

    @Test
    void mixerDrawsTextWithTheRatio() {
        int n = 100_000;
        for (double ratio : new double[] {0.7, 0.3, 0.05}) {
            DataMixer mixer = new DataMixer(ratio, 42);
            int texts = 0;
            for (int d = 0; d < n; d++) {
                texts += mixer.takesText(d) ? 1 : 0;
            }
            double sigma = Math.sqrt(n * ratio * (1 - ratio));
            assertTrue(Math.abs(texts - n * ratio) < 5 * sigma, ratio + ": " + texts + " text draws of " + n);
        }
        DataMixer none = new DataMixer(0, 1);
        DataMixer all = new DataMixer(1, 1);
        for (int d = 0; d < 1000; d++) {
            assertTrue(!none.takesText(d) && all.takesText(d));
        }
        assertThrows(IllegalArgumentException.class, () -> new DataMixer(1.5, 1));
        assertEquals(0.7, DataMixer.STAGE2_TEXT_RATIO);
    }

    @Test
    void mixedLoaderTakesEachSourceInItsOwnEpochs() {
        DataLoader loader = DataLoader.mixed(captions, text, 0.7, 8, true, 5);
        DataMixer mixer = new DataMixer(0.7, 5);
        List<Integer> fromText = new ArrayList<>();
        List<Integer> fromCaptions = new ArrayList<>();
        int n = 4000;
        for (int d = 0; d < n; d++) {
            DataLoader.Pick p = loader.pick();
            assertEquals(mixer.takesText(d), p.text(), "draw " + d + " follows the mixer");
            (p.text() ? fromText : fromCaptions).add(p.index());
        }
        assertTrue(Math.abs(fromText.size() - 0.7 * n) < 5 * Math.sqrt(n * 0.21), fromText.size() + " text of " + n);
        assertEpochsArePermutations(fromText, TEXT_LINES);
        assertEpochsArePermutations(fromCaptions, CAPTION_LINES);
        DataCursor c = loader.cursor();
        assertEquals(fromCaptions.size(), c.drawn());
        assertEquals(fromText.size(), c.textDrawn());
    }

    private static void assertEpochsArePermutations(List<Integer> draws, int size) {
        for (int e = 0; (e + 1) * size <= draws.size(); e++) {
            assertEquals(size, draws.subList(e * size, (e + 1) * size).stream().distinct().count(), "epoch " + e);
        }
    }

    @Test
    void restoredCursorContinuesIdentically() throws IOException {
        for (boolean mixed : new boolean[] {false, true}) {
            DataLoader first = mixed ? DataLoader.mixed(captions, text, 0.7, 3, true, 11) : DataLoader.of(text, 3, true, 11);
            for (int b = 0; b < 4; b++) {
                first.nextBatch();   // 12 draws: past the first epoch of every source
            }
            String saved = first.nextBatch().cursor().toJson();
            List<String> uninterrupted = sources(first, 6);

            // a new run: the files opened again, the cursor read back from its JSON
            try (TrainingData t = TrainingData.open(text.files(), encoder, DataOptions.DEFAULT);
                 TrainingData c = TrainingData.open(captions.files(), encoder, DataOptions.DEFAULT)) {
                DataLoader resumed = mixed ? DataLoader.mixed(c, t, 0.7, 3, true, 11) : DataLoader.of(t, 3, true, 11);
                resumed.restore(DataCursor.fromJson(saved, "checkpoint"));
                assertEquals(uninterrupted, sources(resumed, 6), mixed ? "mixed" : "single");
                DataLoader otherSeed = mixed ? DataLoader.mixed(c, t, 0.7, 3, true, 12) : DataLoader.of(t, 3, true, 12);
                InvalidInputException e = assertThrows(InvalidInputException.class,
                        () -> otherSeed.restore(DataCursor.fromJson(saved, "checkpoint")));
                assertTrue(e.getMessage().contains("seed 11 but this run has 12"), e.getMessage());
            }
        }
    }

    /** file:line and ids of the next n batches. */
    private static List<String> sources(DataLoader loader, int n) {
        List<String> out = new ArrayList<>();
        for (int b = 0; b < n; b++) {
            for (TrainingSample s : loader.nextBatch().samples()) {
                out.add(s.source() + " " + Arrays.toString(s.inputIds()));
            }
        }
        return out;
    }

    @Test
    void cursorJsonRoundTripsAndNamesItsProblems() {
        DataCursor c = new DataCursor(-3, true, 0.7, 10, 7, 123, 456);
        assertEquals(c, DataCursor.fromJson(c.toJson(), "x"));
        assertEquals(12, c.epoch());
        assertEquals(3, c.position());
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> DataCursor.fromJson("{\"seed\": 1}", "ckpt/data.json"));
        assertTrue(e.getMessage().startsWith("ckpt/data.json: data cursor field shuffle"), e.getMessage());
        DataLoader loader = DataLoader.of(text, 2, true, -3);
        InvalidInputException sizes = assertThrows(InvalidInputException.class,
                () -> loader.restore(new DataCursor(-3, true, 0, 11, 0, 5, 0)));
        assertTrue(sizes.getMessage().contains("number of samples 11 but this run has 10"), sizes.getMessage());
        assertNotEquals(c, new DataCursor(-3, true, 0.7, 10, 7, 124, 456));
    }

    static Path write(String name, List<String> lines) throws IOException {
        Path file = dir.resolve(name);
        Files.write(file, lines);
        return file;
    }
}
