package ai.vl4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.vl4j.Fixtures;
import ai.vl4j.nn.Module;
import ai.vl4j.nn.Parameter;
import ai.vl4j.safetensors.SafetensorsFile;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.train.data.DataOptions;
import ai.vl4j.train.data.SampleEncoder;
import ai.vl4j.train.data.TrainingData;
import ai.vl4j.train.data.TrainingSample;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.databind.JsonNode;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The training fixtures in testdata/train (fixture README): per model and case, case.json (trainable tensors,
 * optimizer, losses) and the gradients and weights of the float64 oracle, compared with the README §9 rules.
 */
final class TrainFixtures {
    static final Path ROOT = Fixtures.TESTDATA.resolve("train");

    private TrainFixtures() {
    }

    /** Every (model, case) folder with a case.json, e.g. tiny-dsvl-1.3b/stage1. */
    static Stream<Path> cases(String... kinds) {
        List<Path> out = new ArrayList<>();
        try (Stream<Path> models = Files.list(ROOT)) {
            for (Path model : models.sorted().toList()) {
                for (String kind : kinds) {
                    if (Files.exists(model.resolve(kind).resolve("case.json"))) {
                        out.add(model.resolve(kind));
                    }
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out.stream();
    }

    static JsonNode caseJson(Path dir) {
        return Fixtures.json(dir.resolve("case.json"));
    }

    static Path modelDir(Path dir) {
        return dir.resolve("..").resolve("..").resolve(caseJson(dir).get("model_dir").asText()).normalize();
    }

    /** The case's batch: its data file's samples in file order. */
    static List<TrainingSample> batch(Path dir) {
        Path data = ROOT.resolve(caseJson(dir).get("data").asText());
        SampleEncoder encoder = SampleEncoder.load(modelDir(dir));
        TrainingData td = TrainingData.open(data, encoder, DataOptions.DEFAULT);
        List<TrainingSample> samples = new ArrayList<>();
        for (int i = 0; i < td.size(); i++) {
            samples.add(td.get(i));
        }
        return samples;
    }

    /**
     * Makes exactly the case's trainable tensors train (checking the registry knows them all); for a LoRA case,
     * first attaches the adapters of its adapter_init folder (every checkpoint tensor then frozen).
     */
    static Map<String, Parameter> train(DeepSeekVl vl, JsonNode c, Path dir) {
        if (c.has("lora")) {
            TrainingSetup.lora(vl, ai.vl4j.train.io.Adapter.read(dir.resolve("adapter_init")), 0, 0, List.of(), 0);
        }
        Map<String, Parameter> byName = Module.byName(vl.parameters());
        TreeSet<String> wanted = new TreeSet<>();
        c.get("trainable").forEach(n -> wanted.add(n.asText()));
        for (String name : wanted) {
            if (!byName.containsKey(name)) {
                fail("the case trains " + name + ", which the model does not register");
            }
        }
        for (Parameter p : byName.values()) {
            if (wanted.contains(p.name())) {
                p.train();
            } else {
                p.freeze();
            }
        }
        return byName;
    }

    /** |x − ref| ≤ atol·max|ref| + rtol·|ref| elementwise (README §9's gradient rule), x and ref as doubles. */
    static void assertClose(String what, double[] ref, double[] x, double atol, double rtol) {
        assertEquals(ref.length, x.length, what + ": length");
        double max = 0;
        for (double r : ref) {
            max = Math.max(max, Math.abs(r));
        }
        double worst = 0;
        int at = -1;
        for (int i = 0; i < ref.length; i++) {
            double excess = Math.abs(x[i] - ref[i]) / (atol * max + rtol * Math.abs(ref[i]) + 1e-300);
            if (excess > worst) {
                worst = excess;
                at = i;
            }
        }
        assertTrue(worst <= 1, what + ": element " + at + " is " + (at < 0 ? 0 : x[at]) + ", expected " + (at < 0 ? 0 : ref[at])
                + " (" + String.format("%.3g", worst) + "x the tolerance; max |ref| " + max + ")");
    }

    /**
     * Compares the parameters' gradients or values with a fixture file in the README §8 layout: every stored key is
     * handed to rule with the reference, the parameter and a view that takes the same view of any array of the
     * parameter's shape (the whole tensor, its ::rows at ::row_ids, or lm_head's ::probe: the product with the
     * probe vector over all rows). Returns the parameter names compared.
     */
    static TreeSet<String> compare(Path file, Map<String, Parameter> params, Comparison rule) {
        Map<String, Tensor> ts = SafetensorsFile.open(file, Arena.ofAuto()).tensors();
        TreeSet<String> seen = new TreeSet<>();
        float[] probe = ts.containsKey("probe_vector") ? ts.get("probe_vector").toFloatArray() : null;
        for (Map.Entry<String, Tensor> e : ts.entrySet()) {
            String key = e.getKey();
            if (key.equals("probe_vector") || key.endsWith("::row_ids")) {
                continue;
            }
            String name = key.contains("::") ? key.substring(0, key.indexOf("::")) : key;
            Parameter p = params.get(name);
            if (p == null) {
                fail(file.getFileName() + " has " + key + ", which the model does not register");
            }
            double[] ref = toDoubles(e.getValue().toFloatArray());
            int cols = (int) (p.numel() / p.shape()[0]);
            View view = data -> {
                if (data == null) {
                    fail(name + " has no gradient or values: it does not train");
                }
                if (key.endsWith("::rows")) {
                    Tensor ids = ts.get(name + "::row_ids");
                    double[] got = new double[ref.length];
                    for (int r = 0; r < ids.numel(); r++) {
                        int row = (int) ids.getLong(r);
                        for (int c = 0; c < cols; c++) {
                            got[r * cols + c] = data[row * cols + c];
                        }
                    }
                    return got;
                }
                if (key.endsWith("::probe")) {
                    double[] got = new double[ref.length];
                    for (int row = 0; row < ref.length; row++) {
                        double sum = 0;
                        for (int c = 0; c < cols; c++) {
                            sum += (double) data[row * cols + c] * probe[c];
                        }
                        got[row] = sum;
                    }
                    return got;
                }
                return toDoubles(data);
            };
            rule.check(key, ref, p, view);
            seen.add(name);
        }
        return seen;
    }

    interface View {
        double[] of(float[] data);
    }

    interface Comparison {
        void check(String key, double[] ref, Parameter p, View view);
    }

    static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
