package ai.vl4j.zeroshot;

import ai.vl4j.Fixtures;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A zero-shot fixture folder (model/, images/, expected/cases.json and expected/*.safetensors) and its tolerance. */
public record ZeroShotFixture(Path dir, String expectedFile) {
    public static final ZeroShotFixture SIGLIP = new ZeroShotFixture(Fixtures.ZEROSHOT_SIGLIP, "siglip.safetensors");
    public static final ZeroShotFixture CLIP = new ZeroShotFixture(Fixtures.ZEROSHOT_CLIP, "clip.safetensors");

    public Path model() {
        return dir.resolve("model");
    }

    public JsonNode cases() {
        return Fixtures.json(dir.resolve("expected/cases.json"));
    }

    public Tensor expected(String name) {
        return Fixtures.expected(dir.resolve("expected").resolve(expectedFile), name);
    }

    /** Row i of an expected tensor whose first dimension indexes labels or images. */
    public float[] row(String name, int i) {
        Tensor t = expected(name);
        int per = (int) (t.numel() / t.dim(0));
        return Arrays.copyOfRange(t.toFloatArray(), i * per, (i + 1) * per);
    }

    /** Row i of an integer tensor (input_ids, attention_mask). */
    public int[] intRow(String name, int i) {
        Tensor t = expected(name);
        int per = (int) (t.numel() / t.dim(0));
        int[] out = new int[per];
        for (int j = 0; j < per; j++) {
            out[j] = (int) t.getLong((long) i * per + j);
        }
        return out;
    }

    public List<String> strings(String key) {
        List<String> out = new ArrayList<>();
        cases().get(key).forEach(n -> out.add(n.asText()));
        return out;
    }

    public List<RgbImage> images() {
        return strings("images").stream().map(name -> ImageLoader.load(dir.resolve("images").resolve(name))).toList();
    }

    public Path image(int i) {
        return dir.resolve("images").resolve(strings("images").get(i));
    }

    /** |got − exp| ≤ atol + rtol·|exp| with the fixture's own atol and rtol. */
    public void assertClose(String label, float[] got, float[] expected) {
        JsonNode tol = cases().get("tolerance");
        Fixtures.assertClose(label, got, expected, tol.get("atol").asDouble(), tol.get("rtol").asDouble());
    }
}
