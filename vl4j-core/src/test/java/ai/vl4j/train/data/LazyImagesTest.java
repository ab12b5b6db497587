package ai.vl4j.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.InvalidInputException;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.vlm.ModelConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Images are read when a sample's pixels are asked for, never by opening the data or getting a sample; up-front
 * validation reads only image headers unless told to decode; the JSONL lines themselves are read again on get.
 */
class LazyImagesTest {
    @TempDir
    Path dir;
    static SampleEncoder encoder;

    @BeforeAll
    static void setUp() {
        encoder = new SampleEncoder(Fixtures.tokenizer(), ModelConfig.load(Fixtures.TINY_13B_MODEL));
    }

    @Test
    void pixelsAreReadOnlyWhenAsked() throws IOException {
        Path image = dir.resolve("a.png");
        Files.copy(Fixtures.TESTDATA.resolve("formats/rgb.png"), image);
        Path file = write("one.jsonl", "{\"images\": [\"a.png\"], \"text\": \"<image_placeholder>A caption.\"}");
        try (TrainingData data = TrainingData.open(file, encoder, DataOptions.DEFAULT)) {
            TrainingSample s = data.get(0);
            float[] pixels = s.pixels(0);
            assertArrayEquals(encoder.imageProcessor().preprocess(ImageLoader.load(image)), pixels);

            // the sample holds no pixels: with the file gone, asking again fails, naming the JSONL line
            Files.delete(image);
            BadSampleException e = assertThrows(BadSampleException.class, () -> s.pixels(0));
            assertTrue(e.getMessage().startsWith(file + ":1: images[0]: "), e.getMessage());
            assertTrue(e.getMessage().contains("image file not found"), e.getMessage());
            // and neither does the data: getting the sample again succeeds, only its pixels fail
            assertEquals(s.source(), data.get(0).source());
        }
    }

    @Test
    void validationReadsHeadersUnlessToldToDecode() throws IOException {
        // a PNG cut after its first kilobyte (of 3.3): the header is whole, the pixel data is not
        byte[] png = Files.readAllBytes(Fixtures.TESTDATA.resolve("formats/rgb.png"));
        Files.write(dir.resolve("cut.png"), Arrays.copyOf(png, 1024));
        Path file = write("cut.jsonl", "{\"text\": \"fine\"}", "{\"images\": [\"cut.png\"], \"text\": \"<image_placeholder>x\"}");

        try (TrainingData data = TrainingData.open(file, encoder, DataOptions.DEFAULT)) {
            assertEquals(2, data.size());
            BadSampleException late = assertThrows(BadSampleException.class, () -> data.get(1).pixels(0));
            assertTrue(late.getMessage().startsWith(file + ":2: images[0]: "), late.getMessage());
        }
        BadSampleException early = assertThrows(BadSampleException.class,
                () -> TrainingData.open(file, encoder, DataOptions.DEFAULT.withImageCheck(ImageCheck.DECODE)));
        assertTrue(early.getMessage().startsWith(file + ":2: images[0]: "), early.getMessage());

        Files.delete(dir.resolve("cut.png"));
        try (TrainingData unchecked = TrainingData.open(file, encoder, DataOptions.DEFAULT.withImageCheck(ImageCheck.NONE))) {
            assertEquals(2, unchecked.size());
        }
    }

    @Test
    void linesAreReadAgainAndAChangedFileIsAnError() throws IOException {
        Path file = dir.resolve("crlf.jsonl");
        // a byte-order mark, CRLF line ends, blank lines, no newline at the end
        Files.write(file, ("\uFEFF{\"text\": \"first\"}\r\n\r\n  \r\n{\"conversations\": [{\"role\": \"User\", \"content\": \" Hi \"}, "
                + "{\"role\": \"Assistant\", \"content\": \"Hello.\", \"text\": null}], \"images\": null}").getBytes(StandardCharsets.UTF_8));
        try (TrainingData data = TrainingData.open(file, encoder, DataOptions.DEFAULT)) {
            assertEquals(2, data.size());
            assertEquals(new SampleSource(file, 4), data.source(1));
            assertEquals(1, data.indexOf(new SampleSource(file, 4)));
            assertEquals("first", data.get(0).text());
            assertArrayEquals(encoder.encode(encoder.parser().parse("{\"text\": \"first\"}", data.source(0), dir)).inputIds(),
                    data.get(0).inputIds());
            assertEquals(SampleKind.SFT, data.kind(1));
            assertEquals(3, data.get(new SampleSource(file, 4)).nSupervised()); // " Hello", "." and EOS
            assertEquals("2 samples (0 caption, 1 text, 1 sft; 0 images), " + data.report().tokens() + " tokens ("
                    + data.report().supervised() + " supervised), longest " + data.report().longest(), data.report().summary());

            Files.writeString(file, "{\"text\": \"changed\"}\n");
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> data.get(0));
            assertEquals(file + ": changed since it was validated; open it again", e.getMessage());
        }
    }

    private Path write(String name, String... lines) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, String.join("\n", lines) + "\n");
        return file;
    }
}
