package ai.vl4j.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.InvalidInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A file cut short is refused in every format, as Pillow refuses it by default (the JDK's JPEG decoder alone would
 * pad it and answer about a partly grey picture), with one message naming the file, its format and the cause.
 */
class TruncatedImageTest {
    static Stream<String> formats() throws IOException {
        try (Stream<Path> files = Files.list(Fixtures.TESTDATA.resolve("formats"))) {
            return files.map(f -> f.getFileName().toString()).filter(f -> !f.endsWith(".json")).sorted().toList().stream();
        }
    }

    @ParameterizedTest
    @MethodSource("formats")
    void truncatedCopiesAreRefused(String file) throws IOException {
        byte[] whole = Files.readAllBytes(Fixtures.TESTDATA.resolve("formats").resolve(file));
        String format = ImageLoader.formatName(whole);
        assertTrue(Arrays.asList("PNG", "JPEG", "GIF", "BMP", "WebP").contains(format), file + ": " + format);
        ImageLoader.decode(whole, file);                                  // the whole file decodes
        for (double kept : new double[] {0.25, 0.5, 0.75, 0.9}) {
            byte[] cut = Arrays.copyOf(whole, (int) (whole.length * kept));
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> ImageLoader.decode(cut, "cut-" + file),
                    file + " cut to " + cut.length + " of " + whole.length + " bytes was accepted");
            assertEquals("cut-" + file + ": the " + format + " file is truncated (it ends before the image data does)", e.getMessage());
        }
    }

    @ParameterizedTest
    @MethodSource("formats")
    void headersOfTruncatedCopiesStillGiveTheSize(String file) throws IOException {
        byte[] whole = Files.readAllBytes(Fixtures.TESTDATA.resolve("formats").resolve(file));
        ImageLoader.Header header = ImageLoader.header(Arrays.copyOf(whole, whole.length / 2), file);
        RgbImage image = ImageLoader.decode(whole, file);
        assertEquals(image.width(), header.width());
        assertEquals(image.height(), header.height());
    }
}
