package ai.vl4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.nn.Parameter;
import ai.vl4j.train.data.TrainingSample;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Step 0 of every training case against the float64 oracle (fixture README §9): the batch loss within 5e-6
 * relative, and the gradient of every trainable tensor within 5e-4·max|ref| + 5e-4·|ref|, vocabulary tensors by
 * their stored rows and lm_head's probe; every trainable tensor has a gradient, and the file covers them all.
 */
class GradientFixtureTest {

    static Stream<Path> cases() {
        return TrainFixtures.cases("stage1", "stage2", "stage3", "lora");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void stepZeroLossAndGradients(Path dir) {
        JsonNode c = TrainFixtures.caseJson(dir);
        try (DeepSeekVl vl = DeepSeekVl.load(TrainFixtures.modelDir(dir))) {
            Map<String, Parameter> params = TrainFixtures.train(vl, c, dir);
            List<TrainingSample> batch = TrainFixtures.batch(dir);
            long n = Objective.supervised(batch);
            assertEquals(c.get("n_supervised_total").asLong(), n);
            double loss = new Objective(vl, false).lossAndGradients(batch, n);
            double ref = c.get("loss_step0").get("fp64").asDouble();
            double rtol = c.get("tolerance").get("loss").get("rtol").asDouble();
            assertTrue(Math.abs(loss - ref) <= rtol * Math.abs(ref), "loss " + loss + " vs " + ref);
            double atol = c.get("tolerance").get("grad").get("atol").asDouble();
            double gradRtol = c.get("tolerance").get("grad").get("rtol").asDouble();
            TreeSet<String> compared = TrainFixtures.compare(dir.resolve("grads_step0.safetensors"), params,
                    (key, r, p, view) -> TrainFixtures.assertClose(dir.getFileName() + " " + key, r, view.of(p.grad()), atol, gradRtol));
            TreeSet<String> trainable = new TreeSet<>();
            c.get("trainable").forEach(t -> trainable.add(t.asText()));
            assertEquals(trainable, compared);
        }
    }
}
