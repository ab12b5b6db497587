package ai.vl4j.spark;

import static ai.vl4j.Fixtures.ints;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.text.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transformer in a Spark local[2] session on the tiny 1.3B-style fixture model: the fixture's images through
 * Spark's binaryFile and image sources give the golden greedy answers that {@code vl4j run} gives; a broken file is a
 * null answer and an error, not a failed job.
 */
class Vl4jTransformerTest {
    static SparkSession spark;
    @TempDir
    static Path images;

    /** Fixture case by image file: the prompt it was generated with and its golden greedy tokens. */
    record Golden(String prompt, int[] tokens) {
    }

    static final Map<String, Golden> GOLDEN = new HashMap<>();

    @BeforeAll
    static void start() throws IOException {
        Path expected = Fixtures.TINY_13B.resolve("expected");
        for (String c : List.of("dog_a__en", "synth_640x427_q90__en", "tiny_37x91_rgba__zh")) {
            JsonNode prompt = Fixtures.json(expected.resolve(c).resolve("prompt.json"));
            String stem = prompt.get("image").asText();
            String file = Fixtures.json(expected.resolve(stem).resolve("image_meta.json")).get("file").asText();
            String text = prompt.get("user_content").asText().replace("<image_placeholder>", "");
            GOLDEN.put(file, new Golden(text, ints(Fixtures.json(expected.resolve(c).resolve("greedy.json")).get("new_tokens"))));
            Files.copy(Fixtures.TINY_13B.resolve("images").resolve(file), images.resolve(file));
        }
        Files.writeString(images.resolve("broken.png"), "not a picture");
        spark = SparkSession.builder().master("local[2]").appName("vl4j-test")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
    }

    static int goldenLength() {
        return GOLDEN.values().iterator().next().tokens().length;
    }

    static String name(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    @Test
    void binaryFilesGiveTheGoldenAnswersAndABrokenFileAnError() {
        Dataset<Row> files = spark.read().format("binaryFile").load(images.toString()).repartition(2);
        Dataset<Row> withPrompts = files.withColumn("question", when(col("path").endsWith("tiny_37x91_rgba.png"),
                lit(GOLDEN.get("tiny_37x91_rgba.png").prompt())).otherwise(lit(null).cast("string")));
        Vl4jTransformer vl4j = new Vl4jTransformer().setModel(Fixtures.TINY_13B_MODEL.toString()).setPromptCol("question")
                .setMaxNewTokens(goldenLength()).setMaxBatch(2);
        List<Row> rows = vl4j.transform(withPrompts).select("path", "answer", "error").collectAsList();
        assertEquals(4, rows.size());
        Tokenizer tokenizer = Fixtures.tokenizer();
        for (Row r : rows) {
            String file = name(r.getString(0));
            if (file.equals("broken.png")) {
                assertNull(r.get(1));
                assertTrue(r.getString(2).contains("broken.png: not an image"), r.getString(2));
                continue;
            }
            Golden g = GOLDEN.get(file);
            assertNull(r.get(2), file);
            assertEquals(tokenizer.decode(g.tokens(), true), r.getString(1), file);
        }
        assertEquals("Describe this image.", GOLDEN.get("dog_a.png").prompt());   // the rows without a question used the default
    }

    @Test
    void sparksImageSourceGivesTheSameAnswer() {
        Dataset<Row> pictures = spark.read().format("image").option("dropInvalid", true).load(images.resolve("dog_a.png").toString());
        Vl4jTransformer vl4j = new Vl4jTransformer().setModel(Fixtures.TINY_13B_MODEL.toString()).setImageCol("image")
                .setMaxNewTokens(goldenLength());
        Row r = vl4j.transform(pictures).select("answer", "error").first();
        assertNull(r.get(1));
        assertEquals(Fixtures.tokenizer().decode(GOLDEN.get("dog_a.png").tokens(), true), r.getString(0));
    }

    @Test
    void schemaProblemsAreReportedOnTheDriver() {
        Dataset<Row> files = spark.read().format("binaryFile").load(images.toString());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> new Vl4jTransformer().setImageCol("picture").transform(files));
        assertTrue(missing.getMessage().contains("no image column 'picture'"), missing.getMessage());
        IllegalArgumentException wrongType = assertThrows(IllegalArgumentException.class,
                () -> new Vl4jTransformer().setImageCol("path").transform(files));
        assertTrue(wrongType.getMessage().contains("must be binary"), wrongType.getMessage());
    }

    @Test
    void savesAndLoadsWithItsParameters() throws IOException {
        Path dir = images.resolveSibling(images.getFileName() + "-saved");
        Vl4jTransformer vl4j = new Vl4jTransformer().setModel("org/some-model").setMaxBatch(3).setPrompt("What is written here?");
        vl4j.write().overwrite().save(dir.toString());
        Vl4jTransformer loaded = Vl4jTransformer.load(dir.toString());
        assertEquals(vl4j.uid(), loaded.uid());
        assertEquals("org/some-model", loaded.getModel());
        assertEquals(3, loaded.getOrDefault(loaded.maxBatch()));
        assertEquals("What is written here?", loaded.getOrDefault(loaded.prompt()));
    }
}
