package ai.vl4j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.vl4j.Fixtures;
import ai.vl4j.ModelFormatException;
import ai.vl4j.config.ConfigNode;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * CLIP's and SigLIP's image processors against the zero-shot fixtures: the uint8 image after resize (and crop)
 * exactly, and pixel_values exactly (the fixtures' transcription is bit-identical to transformers').
 */
class ClipImageProcessorTest {

    static ClipImageProcessor processor(Path fixture, boolean clip) {
        ConfigNode cfg = ConfigNode.load(fixture.resolve("model/preprocessor_config.json"));
        return new ClipImageProcessor(clip ? ClipImageProcessor.Config.clip(cfg) : ClipImageProcessor.Config.siglip(cfg));
    }

    private static void assertFixtureImages(Path fixture, String expectedFile, boolean clip) {
        ClipImageProcessor proc = processor(fixture, clip);
        JsonNode cases = Fixtures.json(fixture.resolve("expected/cases.json"));
        Path expected = fixture.resolve("expected").resolve(expectedFile);
        Tensor resized = Fixtures.expected(expected, "resized_u8");        // [N, S, S, 3]
        Tensor pixels = Fixtures.expected(expected, "pixel_values");      // [N, 3, S, S]
        int n = cases.get("images").size();
        int per = (int) (resized.numel() / n);
        float[] allPixels = pixels.toFloatArray();
        for (int i = 0; i < n; i++) {
            String name = cases.get("images").get(i).asText();
            RgbImage img = ImageLoader.load(fixture.resolve("images").resolve(name));
            if (cases.has("resize_hw")) {
                int[] hw = proc.resizedSize(img.width(), img.height());
                assertArrayEquals(Fixtures.ints(cases.get("resize_hw").get(i)), hw, name + " resize (h, w)");
            }
            RgbImage out = proc.resizeAndCrop(img);
            byte[] want = new byte[per];
            for (int j = 0; j < per; j++) {
                want[j] = (byte) resized.getLong((long) i * per + j);
            }
            assertArrayEquals(want, out.rgb(), name + " resized_u8");
            float[] got = proc.preprocess(img);
            float[] ref = Arrays.copyOfRange(allPixels, i * got.length, (i + 1) * got.length);
            assertArrayEquals(ref, got, name + " pixel_values");
            System.out.println("OK " + name + " resized_u8 and pixel_values exact");
        }
    }

    @Test
    void siglipSquashResize() {
        assertFixtureImages(Fixtures.ZEROSHOT_SIGLIP, "siglip.safetensors", false);
    }

    @Test
    void clipShortestSideResizeAndCentreCrop() {
        assertFixtureImages(Fixtures.ZEROSHOT_CLIP, "clip.safetensors", true);
    }

    private static ClipImageProcessor.Config clipConfig(String json) throws Exception {
        return ClipImageProcessor.Config.clip(ConfigNode.of("preprocessor_config.json", new ObjectMapper().readTree(json)));
    }

    @Test
    void bothSpellingsOfSizesAreRead() throws Exception {
        ClipImageProcessor.Config legacy = clipConfig("{\"size\": 224, \"crop_size\": 200}");
        ClipImageProcessor.Config modern = clipConfig("{\"size\": {\"shortest_edge\": 224}, \"crop_size\": {\"height\": 200, \"width\": 180}}");
        assertEquals(224, legacy.shortestEdge());
        assertEquals(200, legacy.cropWidth());
        assertEquals(224, modern.shortestEdge());
        assertEquals(180, modern.cropWidth());
        ClipImageProcessor.Config exact = clipConfig("{\"size\": {\"height\": 30, \"width\": 40}, \"do_center_crop\": false}");
        assertArrayEquals(new int[] {30, 40}, new ClipImageProcessor(exact).outputSize(97, 150));
        // shortest side 224 of 150x97 (w x h): h 224, w int(224·150/97) = 346 (truncated; 346.39)
        assertArrayEquals(new int[] {224, 346}, new ClipImageProcessor(legacy).resizedSize(150, 97));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> clipConfig("{\"resample\": 2}"));
        assertEquals("preprocessor_config.json: resample is 2; only 3 (bicubic) is implemented", e.getMessage());
    }

    @Test
    void centreCropLargerThanTheImagePadsWithZeros() {
        // 3x2 image (w x h) of ones cropped to 5x4: transformers pads to 5x4 with the image at top 1, left 1
        byte[] ones = new byte[3 * 2 * 3];
        Arrays.fill(ones, (byte) 1);
        RgbImage crop = ClipImageProcessor.centerCrop(new RgbImage(3, 2, ones), 4, 5);
        StringBuilder rows = new StringBuilder();
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 5; x++) {
                rows.append(crop.get(x, y, 0));
            }
            rows.append('/');
        }
        assertEquals("00000/01110/01110/00000/", rows.toString());
    }
}
