package ai.vl4j.train.data;

import static ai.vl4j.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.vl4j.Fixtures;
import ai.vl4j.text.ChatTemplate;
import ai.vl4j.text.Message;
import ai.vl4j.train.data.TrainingSample.ImageSpan;
import ai.vl4j.train.data.TrainingSample.Segment;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every sample of every {@code case.json} under testdata/train (both models; stage 1, 2, 3 and LoRA), read
 * through {@link TrainingData} from the case's JSONL file: kind, images, text, segments, tokenizer ids, input
 * ids, labels, image spans and n_supervised exactly equal to the fixture's; and each image's pixels those the
 * inference fixtures check. The cases are found on disk, so a fixture set with other models and data is
 * checked the same way.
 */
class TrainFixtureDataTest {
    static final Path TRAIN = Fixtures.TESTDATA.resolve("train");
    private static final Map<Path, SampleEncoder> ENCODERS = new HashMap<>();
    private static final Map<Path, Set<Path>> CHECKED_IMAGES = new HashMap<>();   // per model: cases share images

    static Stream<Arguments> cases() throws IOException {
        List<Arguments> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(TRAIN, 3)) {
            for (Path f : files.filter(p -> p.getFileName().toString().equals("case.json")).sorted().toList()) {
                out.add(Arguments.of(TRAIN.relativize(f.getParent()).toString(), f));
            }
        }
        assertFalse(out.isEmpty(), "no case.json under " + TRAIN);
        return out.stream();
    }

    static synchronized SampleEncoder encoder(Path modelDir) {
        return ENCODERS.computeIfAbsent(modelDir.normalize(), SampleEncoder::load);
    }

    @AfterAll
    static void close() {
        ENCODERS.values().forEach(SampleEncoder::close);
        ENCODERS.clear();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void everySampleEqualsTheFixture(String name, Path caseFile) {
        JsonNode c = Fixtures.json(caseFile);
        Path dataFile = TRAIN.resolve(c.get("data").asText());
        SampleEncoder encoder = encoder(TRAIN.resolve(c.get("model_dir").asText()));
        JsonNode want = c.get("samples");
        try (TrainingData data = TrainingData.open(dataFile, encoder, DataOptions.DEFAULT)) {
            assertEquals(want.size(), data.size(), name + ": samples");
            long total = 0;
            for (int i = 0; i < want.size(); i++) {
                JsonNode w = want.get(i);
                TrainingSample s = data.get(i);
                String label = name + " sample " + i + " (" + s.source() + ")";
                assertEquals(w.get("kind").asText(), s.kind().label, label + ": kind");
                List<Path> images = new ArrayList<>();
                w.get("images").forEach(p -> images.add(dataFile.getParent().resolve(p.asText())));
                assertEquals(images, s.images(), label + ": images");
                assertEquals(w.get("text").asText(), s.text(), label + ": text");
                assertEquals(w.get("segments").size(), s.segments().size(), label + ": segments");
                for (int k = 0; k < s.segments().size(); k++) {
                    JsonNode ws = w.get("segments").get(k);
                    assertEquals(new Segment(ws.get("text").asText(), ws.get("supervised").asBoolean()), s.segments().get(k),
                            label + ": segment " + k);
                }
                assertArrayEquals(ints(w.get("tokenizer_ids")), s.tokenizerIds(), label + ": tokenizer_ids");
                assertArrayEquals(ints(w.get("input_ids")), s.inputIds(), label + ": input_ids");
                assertArrayEquals(ints(w.get("labels")), s.labels(), label + ": labels");
                List<ImageSpan> spans = new ArrayList<>();
                w.get("image_token_spans").forEach(sp -> spans.add(new ImageSpan(sp.get(0).asInt(), sp.get(1).asInt())));
                assertEquals(spans, s.imageSpans(), label + ": image_token_spans");
                assertEquals(w.get("n_supervised").asInt(), s.nSupervised(), label + ": n_supervised");
                if (s.kind() == SampleKind.SFT) {
                    assertEquals(templateText(encoder, s.source()), s.text(), label + ": the inference template with the answers");
                }
                total += s.nSupervised();
            }
            assertEquals(c.get("n_supervised_total").asLong(), total, name + ": n_supervised_total");

            // the fixture's batch: --batch-size (file size) --no-shuffle gives the whole file in order at every step
            DataLoader loader = DataLoader.of(data, data.size(), false, 1234);
            for (int step = 0; step < 2; step++) {
                Batch batch = loader.nextBatch();
                assertEquals(total, batch.nSupervised(), name + ": the batch's N");
                for (int i = 0; i < data.size(); i++) {
                    assertEquals(data.source(i), batch.samples().get(i).source(), name + ": step " + step + " sample " + i);
                }
            }
        }
    }

    /**
     * The SFT text the inference side builds: ChatTemplate.render of the turns up to the last question (it ends
     * with the generation prompt "Assistant:"), then the last answer and its EOS.
     */
    private static String templateText(SampleEncoder encoder, SampleSource source) {
        String line;
        try {
            line = Files.readAllLines(source.file()).get(source.line() - 1);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        List<Message> turns = encoder.parser().parse(line, source, source.file().getParent()).conversation();
        String prompt = ChatTemplate.render(turns.subList(0, turns.size() - 1), ChatTemplate.DEFAULT_SYSTEM_PROMPT);
        return prompt + " " + ChatTemplate.pythonStrip(turns.getLast().content()) + ChatTemplate.EOS_TEXT;
    }

    /**
     * Each image of each model's data (once per model): the pixels a sample loads are the inference preprocessing's, bit for bit
     * (the uint8 canvas's sha256 equals the inference fixture's image_meta.json where that fixture has the image).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void pixelsAreTheInferencePixels(String name, Path caseFile) throws IOException {
        JsonNode c = Fixtures.json(caseFile);
        Path modelDir = TRAIN.resolve(c.get("model_dir").asText()).normalize();
        SampleEncoder encoder = encoder(modelDir);
        Map<String, String> shaByFile = inferenceShas(modelDir.getParent().resolve("expected"));
        int side = encoder.imageProcessor().config().imageSize();
        Set<Path> seen = CHECKED_IMAGES.computeIfAbsent(modelDir, m -> new HashSet<>());
        int checked = 0;
        int images = 0;
        try (TrainingData data = TrainingData.open(TRAIN.resolve(c.get("data").asText()), encoder, DataOptions.DEFAULT)) {
            for (int i = 0; i < data.size(); i++) {
                TrainingSample s = data.get(i);
                for (int k = 0; k < s.images().size(); k++) {
                    Path image = s.images().get(k);
                    if (!seen.add(image)) {
                        continue;
                    }
                    images++;
                    float[] pixels = s.pixels(k);
                    assertEquals(3 * side * side, pixels.length, name + ": " + image);
                    String sha = shaByFile.get(image.getFileName().toString());
                    if (sha != null) {
                        assertEquals(sha, Fixtures.sha256(toBytes(pixels)), name + ": " + image + " pixels differ from inference's");
                        checked++;
                    }
                }
            }
        }
        System.out.printf("OK %-20s %d new images, %d checked against the inference fixture's sha256%n", name, images, checked);
    }

    private static Map<String, String> inferenceShas(Path expected) throws IOException {
        Map<String, String> out = new HashMap<>();
        if (Files.isDirectory(expected)) {
            try (Stream<Path> dirs = Files.list(expected)) {
                for (Path meta : dirs.map(d -> d.resolve("image_meta.json")).filter(Files::isRegularFile).toList()) {
                    JsonNode m = Fixtures.json(meta);
                    out.put(m.get("file").asText(), m.get("pixel_values_sha256_u8").asText());
                }
            }
        }
        return out;
    }

    /** Back from [0, 1] floats (u8 / 255) to the uint8 canvas. */
    private static byte[] toBytes(float[] pixels) {
        byte[] out = new byte[pixels.length];
        for (int i = 0; i < pixels.length; i++) {
            out[i] = (byte) Math.round(pixels[i] * 255.0);
        }
        return out;
    }
}
