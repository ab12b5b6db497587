package ai.vl4j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.InvalidInputException;
import ai.vl4j.config.ConfigNode;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Decoding and preprocessing against Pillow: exact bytes, checked by the fixtures' sha256 values. */
class ImageProcessorTest {
    private static final ImageProcessor PROCESSOR = new ImageProcessor(ImageProcessorConfig.fromJson(
            ConfigNode.load(Fixtures.TINY_13B_MODEL.resolve("preprocessor_config.json"))));

    @ParameterizedTest
    @ValueSource(strings = {"dog_a", "synth_640x427_q90", "tiny_37x91_rgba"})
    void pixelsEqualTheReferenceProcessorExactly(String stem) {
        JsonNode meta = Fixtures.json(Fixtures.TINY_13B.resolve("expected/" + stem + "/image_meta.json"));
        RgbImage image = ImageLoader.load(Fixtures.TINY_13B.resolve("images/" + meta.get("file").asText()));

        assertEquals(meta.get("original_size_wh").get(0).asInt(), image.width());
        assertEquals(meta.get("original_size_wh").get(1).asInt(), image.height());
        assertEquals(meta.get("decoded_rgb_sha256").asText(), Fixtures.sha256(image.rgb()), "decoded RGB differs from PIL's");
        int[] hw = PROCESSOR.targetSize(image.width(), image.height());
        assertEquals(meta.get("resized_hw").get(0).asInt(), hw[0]);
        assertEquals(meta.get("resized_hw").get(1).asInt(), hw[1]);
        byte[] canvas = PROCESSOR.toCanvas(image);
        assertEquals(meta.get("pixel_values_sha256_u8").asText(), Fixtures.sha256(canvas), "uint8 pixel tensor differs");

        float[] pixels = PROCESSOR.preprocess(image);
        for (int i = 0; i < canvas.length; i += 997) {
            assertEquals((float) ((canvas[i] & 0xff) * 0.00392156862745098), pixels[i]);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"rgb.png", "gray.png", "gray_alpha.png", "palette.png", "rgb.bmp", "palette.gif",
            "lossless.webp", "lossy.webp", "q85_420.jpg", "gray.jpg"})
    void everyFormatDecodesLikePillowConvertRgb(String file) {
        JsonNode meta = Fixtures.json(Fixtures.TESTDATA.resolve("formats/formats.json")).get("files").get(file);
        RgbImage image = ImageLoader.load(Fixtures.TESTDATA.resolve("formats/" + file));
        assertEquals(meta.get("size_wh").get(0).asInt(), image.width());
        assertEquals(meta.get("size_wh").get(1).asInt(), image.height());
        assertEquals(meta.get("rgb_sha256").asText(), Fixtures.sha256(image.rgb()), file + ": RGB differs from Pillow's");
    }

    @Test
    void dataUriDecodesTheSameBytes() throws Exception {
        Path png = Fixtures.TESTDATA.resolve("formats/rgb.png");
        String uri = "data:image/png;base64," + Base64.getEncoder().encodeToString(Files.readAllBytes(png));
        assertArrayEquals(ImageLoader.load(png).rgb(), ImageLoader.load(uri).rgb());
    }

    @Test
    void notAnImageIsAClearError(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path text = dir.resolve("notes.png");
        Files.writeString(text, "this is not a picture");
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> ImageLoader.load(text));
        assertTrue(e.getMessage().contains("notes.png") && e.getMessage().contains("not an image"), e.getMessage());
        InvalidInputException missing = assertThrows(InvalidInputException.class, () -> ImageLoader.load(dir.resolve("nope.jpg")));
        assertTrue(missing.getMessage().contains("not found"), missing.getMessage());
    }

    @Test
    void pillowBicubicKernelHasAMinusOneHalf() {
        assertEquals(1.0, PillowResize.bicubicKernel(0), 0);
        assertEquals(0.5625, PillowResize.bicubicKernel(0.5), 1e-15);   // ((1.5·0.5 − 2.5)·0.25 + 1)
        assertEquals(-0.0625, PillowResize.bicubicKernel(1.5), 1e-15);  // −0.5·(3.375 − 11.25 + 12 − 4)
        assertEquals(0.0, PillowResize.bicubicKernel(2.0), 0);
    }
}
