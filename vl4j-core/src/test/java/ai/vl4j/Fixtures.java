package ai.vl4j;

import static org.junit.jupiter.api.Assertions.fail;

import ai.vl4j.safetensors.SafetensorsFile;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.text.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Paths to the golden fixtures in testdata/ and a tolerance check in the style of llm.c's check_tensor. */
public final class Fixtures {
    public static final Path TESTDATA = Path.of(System.getProperty("vl4j.testdata", "../testdata"));
    public static final Path TINY_13B = TESTDATA.resolve("tiny-dsvl-1.3b");
    public static final Path TINY_13B_MODEL = TINY_13B.resolve("model");
    public static final Path TINY_7B = TESTDATA.resolve("tiny-dsvl");
    public static final Path TINY_7B_MODEL = TINY_7B.resolve("model");
    /** Zero-shot fixtures: a tiny HF SiglipModel and a tiny HF CLIPModel with their expected values. */
    public static final Path ZEROSHOT_SIGLIP = TESTDATA.resolve("zeroshot-tiny");
    public static final Path ZEROSHOT_CLIP = TESTDATA.resolve("zeroshot-clip-tiny");
    /** Tiny random-weight SAM in the HF SamModel layout with the official predictor's and generator's outputs. */
    public static final Path SAM_TINY = TESTDATA.resolve("sam-tiny");
    /** Tolerance of the fixture README §6: |x − ref| ≤ ATOL + RTOL·|ref|. */
    public static final double ATOL = 1e-4;
    public static final double RTOL = 1e-4;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static Tokenizer tokenizer;

    private Fixtures() {
    }

    /** The fixture's tokenizer, loaded once for all tests (the JVM exit frees it). */
    public static synchronized Tokenizer tokenizer() {
        if (tokenizer == null) {
            tokenizer = Tokenizer.load(TINY_13B_MODEL.resolve("tokenizer.json"));
        }
        return tokenizer;
    }

    public static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A tensor of an expected/*.safetensors file, mapped for the test's lifetime. */
    public static Tensor expected(Path file, String name) {
        Tensor t = SafetensorsFile.open(file, Arena.ofAuto()).tensors().get(name);
        if (t == null) {
            fail(file + " has no tensor " + name);
        }
        return t;
    }

    public static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Max |actual − expected| after checking every element against the fixture tolerance; fails naming the worst. */
    public static double assertClose(String label, float[] actual, float[] expected) {
        return assertClose(label, actual, expected, ATOL, RTOL);
    }

    /** As above with the tolerance |x − ref| ≤ atol + rtol·|ref| of another fixture. */
    public static double assertClose(String label, float[] actual, float[] expected, double atol, double rtol) {
        if (actual.length != expected.length) {
            fail(label + ": " + actual.length + " values, expected " + expected.length);
        }
        double maxDiff = 0;
        int worst = -1;
        int bad = 0;
        for (int i = 0; i < actual.length; i++) {
            double diff = Math.abs((double) actual[i] - expected[i]);
            if (!(diff <= atol + rtol * Math.abs(expected[i]))) {
                bad++;
                if (worst < 0) {
                    worst = i;
                }
            }
            if (!(diff <= maxDiff)) {
                maxDiff = diff;
            }
        }
        if (bad > 0) {
            fail(String.format("%s: %d of %d values outside atol %.0e + rtol %.0e; first at %d: %.7f vs %.7f; max diff %.3e",
                    label, bad, actual.length, atol, rtol, worst, actual[worst], expected[worst], maxDiff));
        }
        System.out.printf("OK %-40s max |diff| = %.2e over %d values%n", label, maxDiff, actual.length);
        return maxDiff;
    }
}
