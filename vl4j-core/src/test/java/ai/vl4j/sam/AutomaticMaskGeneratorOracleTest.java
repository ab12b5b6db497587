package ai.vl4j.sam;

import static ai.vl4j.Fixtures.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The generator against more runs of the official code (testdata/sam-tiny-oracle, made by scripts/sam_amg_oracle.py):
 * many records per run, so their order, the IoU filter, two crop layers, NMS across crops and the small-region
 * cleanup are checked. RLE identical, or (a pixel at float-rounding distance from 0, as the fixture README allows)
 * masks with IoU &gt; 0.999.
 */
class AutomaticMaskGeneratorOracleTest {
    static final Path ORACLE = Fixtures.TESTDATA.resolve("sam-tiny-oracle/amg-extra.json");
    static Sam sam;

    @BeforeAll
    static void load() {
        sam = Sam.load(Fixtures.SAM_TINY.resolve("model"));
    }

    @AfterAll
    static void close() {
        sam.close();
    }

    static Stream<String> runNames() {
        List<String> names = new ArrayList<>();
        Fixtures.json(ORACLE).fieldNames().forEachRemaining(names::add);
        return names.stream();
    }

    @ParameterizedTest
    @MethodSource("runNames")
    void recordsEqualTheOfficialGenerator(String name) {
        JsonNode run = Fixtures.json(ORACLE).get(name);
        RgbImage image = ImageLoader.load(Fixtures.SAM_TINY.resolve("images/" + run.get("image").asText()));
        List<AutomaticMaskGenerator.MaskRecord> records = new AutomaticMaskGenerator(sam,
                AutomaticMaskGeneratorGoldenTest.options(run.get("params"))).generate(image);
        JsonNode expected = run.get("records");
        assertEquals(expected.size(), records.size(), name + ": records");
        int nearlyEqual = 0;
        float[] iouGot = new float[records.size()];
        float[] iouWant = new float[records.size()];
        float[] stabilityGot = new float[records.size()];
        float[] stabilityWant = new float[records.size()];
        for (int i = 0; i < records.size(); i++) {
            AutomaticMaskGenerator.MaskRecord got = records.get(i);
            JsonNode want = expected.get(i);
            String label = name + " record " + i;
            assertArrayEquals(Fixtures.ints(want.get("crop_box_xywh")), got.cropBoxXywh(), label + " crop box");
            assertEquals(want.get("point_coords").get(0).get(0).asDouble(), got.pointCoords()[0], 1e-9, label + " point x");
            assertEquals(want.get("point_coords").get(0).get(1).asDouble(), got.pointCoords()[1], 1e-9, label + " point y");
            iouGot[i] = got.predictedIou();
            iouWant[i] = (float) want.get("predicted_iou").asDouble();
            stabilityGot[i] = got.stabilityScore();
            stabilityWant[i] = (float) want.get("stability_score").asDouble();
            int[] counts = Fixtures.ints(want.get("rle").get("counts"));
            if (java.util.Arrays.equals(counts, got.rle().counts())) {
                assertEquals(want.get("area").asInt(), got.area(), label + " area");
                assertArrayEquals(Fixtures.ints(want.get("bbox_xywh")), got.bboxXywh(), label + " bbox");
            } else {
                Rle ref = new Rle(got.rle().height(), got.rle().width(), counts);
                double iou = maskIou(ref.decode(), got.rle().decode());
                assertTrue(iou > 0.999, label + ": masks differ beyond a pixel at the cutoff (IoU " + iou + ")");
                nearlyEqual++;
            }
        }
        assertClose(name + " predicted_iou", iouGot, iouWant);
        assertClose(name + " stability_score", stabilityGot, stabilityWant);
        System.out.printf("OK %-40s %d records, %d equal up to a pixel at the cutoff%n", name, records.size(), nearlyEqual);
        assertTrue(nearlyEqual <= 1, name + ": " + nearlyEqual + " records with masks that are not identical");
    }

    static double maskIou(boolean[] a, boolean[] b) {
        int inter = 0;
        int union = 0;
        for (int i = 0; i < a.length; i++) {
            inter += a[i] && b[i] ? 1 : 0;
            union += a[i] || b[i] ? 1 : 0;
        }
        return union == 0 ? 1 : (double) inter / union;
    }
}
