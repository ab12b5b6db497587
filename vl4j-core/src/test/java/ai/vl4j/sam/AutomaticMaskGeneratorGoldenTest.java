package ai.vl4j.sam;

import static ai.vl4j.Fixtures.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
 * The automatic mask generator against the official one on testdata/sam-tiny's runs (amg.json): the raw IoU
 * predictions of every grid prompt in batch order, then the records: as many, in the same order, RLE, area, bbox,
 * point and crop box identical, predicted IoU and stability within the fixture tolerance, each mask equal to the
 * fixture's PNG.
 */
class AutomaticMaskGeneratorGoldenTest {
    static final Path FIXTURE = Fixtures.SAM_TINY;
    static Sam sam;

    @BeforeAll
    static void load() {
        sam = Sam.load(FIXTURE.resolve("model"));
    }

    @AfterAll
    static void close() {
        sam.close();
    }

    static JsonNode runs() {
        return Fixtures.json(FIXTURE.resolve("expected/amg.json"));
    }

    static Stream<String> runNames() {
        List<String> names = new ArrayList<>();
        runs().fieldNames().forEachRemaining(names::add);
        return names.stream();
    }

    /** The run's parameters over the official defaults. */
    static AutomaticMaskGenerator.Options options(JsonNode p) {
        AutomaticMaskGenerator.Options d = AutomaticMaskGenerator.Options.DEFAULTS;
        return new AutomaticMaskGenerator.Options(p.path("points_per_side").asInt(d.pointsPerSide()),
                p.path("points_per_batch").asInt(d.pointsPerBatch()), p.path("pred_iou_thresh").asDouble(d.predIouThresh()),
                p.path("stability_score_thresh").asDouble(d.stabilityScoreThresh()),
                p.path("stability_score_offset").asDouble(d.stabilityScoreOffset()), p.path("box_nms_thresh").asDouble(d.boxNmsThresh()),
                p.path("crop_n_layers").asInt(d.cropNLayers()), p.path("crop_nms_thresh").asDouble(d.cropNmsThresh()),
                p.path("crop_overlap_ratio").asDouble(d.cropOverlapRatio()),
                p.path("crop_n_points_downscale_factor").asInt(d.cropNPointsDownscaleFactor()),
                p.path("min_mask_region_area").asInt(d.minMaskRegionArea()));
    }

    @ParameterizedTest
    @MethodSource("runNames")
    void recordsEqualTheOfficialGenerator(String name) {
        JsonNode run = runs().get(name);
        RgbImage image = ImageLoader.load(FIXTURE.resolve("images/" + run.get("image").asText()));
        List<Float> raw = new ArrayList<>();
        List<AutomaticMaskGenerator.MaskRecord> records = new AutomaticMaskGenerator(sam, options(run.get("params")))
                .generate(image, (crop, crops, done, total, iou) -> {
                    for (float v : iou) {
                        raw.add(v);
                    }
                });

        JsonNode rawExpected = run.get("raw_iou_predictions_all_points");
        assertEquals(run.get("n_grid_predictions").asInt(), raw.size(), name + ": grid predictions");
        assertClose(name + " raw iou predictions", toArray(raw), floats(rawExpected));

        JsonNode expected = run.get("records");
        assertEquals(run.get("n_masks").asInt(), expected.size());
        assertEquals(expected.size(), records.size(), name + ": records");
        for (int i = 0; i < records.size(); i++) {
            AutomaticMaskGenerator.MaskRecord got = records.get(i);
            JsonNode want = expected.get(i);
            String label = name + " record " + i;
            assertArrayEquals(Fixtures.ints(want.get("rle").get("size")), new int[] {got.rle().height(), got.rle().width()}, label + " size");
            assertArrayEquals(Fixtures.ints(want.get("rle").get("counts")), got.rle().counts(), label + " RLE counts");
            assertEquals(want.get("area").asInt(), got.area(), label + " area");
            assertArrayEquals(Fixtures.ints(want.get("bbox_xywh")), got.bboxXywh(), label + " bbox");
            assertArrayEquals(Fixtures.ints(want.get("crop_box_xywh")), got.cropBoxXywh(), label + " crop box");
            assertEquals(want.get("point_coords").get(0).get(0).asDouble(), got.pointCoords()[0], 1e-9, label + " point x");
            assertEquals(want.get("point_coords").get(0).get(1).asDouble(), got.pointCoords()[1], 1e-9, label + " point y");
            assertClose(label + " predicted_iou", new float[] {got.predictedIou()}, new float[] {(float) want.get("predicted_iou").asDouble()});
            assertClose(label + " stability_score", new float[] {got.stabilityScore()},
                    new float[] {(float) want.get("stability_score").asDouble()});
            RgbImage png = ImageLoader.load(FIXTURE.resolve("expected/" + want.get("mask_png").asText()));
            boolean[] mask = got.rle().decode();
            for (int p = 0; p < mask.length; p++) {
                assertEquals(png.rgb()[p * 3] != 0, mask[p], label + " mask PNG pixel " + p);
            }
        }
    }

    static float[] toArray(List<Float> values) {
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i);
        }
        return out;
    }

    static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) array.get(i).asDouble();
        }
        return out;
    }
}
