package ai.vl4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.nn.Parameter;
import ai.vl4j.train.data.TrainingSample;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The 8 AdamW steps of every training case against the float64 oracle (fixture README §6, §9): the learning rate of
 * each step, the loss before each step and after the last (5e-6 relative), the gradient norm before clipping, and
 * the final weights of every trainable tensor by both rules (the update within 2 % of the oracle's in L2; no
 * element off by more than the summed learning rates).
 */
class TrajectoryFixtureTest {

    static Stream<Path> cases() {
        return TrainFixtures.cases("stage1", "stage2", "stage3", "lora");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void eightStepsFollowTheOracle(Path dir) {
        JsonNode c = TrainFixtures.caseJson(dir);
        JsonNode opt = c.get("optimizer");
        try (DeepSeekVl vl = DeepSeekVl.load(TrainFixtures.modelDir(dir))) {
            Map<String, Parameter> params = TrainFixtures.train(vl, c, dir);
            List<Parameter> trainable = new ArrayList<>();
            Map<String, float[]> initial = new HashMap<>();
            for (Parameter p : params.values()) {
                if (p.trainable()) {
                    trainable.add(p);
                    initial.put(p.name(), p.values().clone());
                }
            }
            List<TrainingSample> batch = TrainFixtures.batch(dir);
            long n = Objective.supervised(batch);
            Objective objective = new Objective(vl, true);
            int steps = opt.get("steps").asInt();
            LrSchedule schedule = LrSchedule.cosine(opt.get("peak_lr").asDouble(), opt.get("warmup_steps").asInt(), steps,
                    opt.get("min_lr_ratio").asDouble());
            AdamW adam = new AdamW((float) opt.get("betas").get(0).asDouble(), (float) opt.get("betas").get(1).asDouble(),
                    (float) opt.get("eps").asDouble(), (float) opt.get("weight_decay").asDouble());
            double rtol = c.get("tolerance").get("loss").get("rtol").asDouble();
            double lrSum = 0;
            for (int s = 1; s <= steps; s++) {
                double lr = schedule.at(s);
                assertEquals(opt.get("lr_per_step").get(s - 1).asDouble(), lr, 1e-15 + 1e-12 * lr, "lr of step " + s);
                lrSum += lr;
                trainable.forEach(Parameter::zeroGrad);
                double loss = objective.lossAndGradients(batch, n);
                assertLoss(c, s - 1, loss, rtol);
                double norm = GradClip.norm(trainable);
                double refNorm = c.get("grad_norm_before_clip").get("fp64").get(s - 1).asDouble();
                assertTrue(Math.abs(norm - refNorm) <= 1e-4 * refNorm, "grad norm before step " + s + ": " + norm + " vs " + refNorm);
                GradClip.clip(trainable, norm, opt.get("grad_clip").get("max_norm").asDouble());
                adam.step(trainable, lr);
            }
            assertLoss(c, steps, objective.loss(batch), rtol);
            double sumLr = lrSum;
            double updateRtol = c.get("tolerance").get("update").get("rtol").asDouble();
            double frac = c.get("tolerance").get("weight").get("frac_of_lr_sum").asDouble();
            // rule 1 compares updates: for a ::probe view the stored value is (W_final − W_initial)·probe already
            Path finals = c.has("lora") ? dir.resolve("adapter_final").resolve("adapter_model.safetensors") : dir.resolve("final_weights.safetensors");
            TreeSet<String> compared = TrainFixtures.compare(finals, params, (key, ref, p, view) -> {
                float[] init = initial.get(p.name());
                boolean probe = key.endsWith("::probe");
                double[] got;
                double[] start;
                if (probe) {
                    float[] delta = p.values().clone();
                    for (int i = 0; i < delta.length; i++) {
                        delta[i] -= init[i];
                    }
                    got = view.of(delta);
                    start = new double[ref.length];
                } else {
                    got = view.of(p.values());
                    start = view.of(init);
                }
                // the key third of a SigLIP qkv bias has zero gradient in exact arithmetic: rule 2 only (README §9)
                int keyFrom = key.endsWith("attn.qkv.bias") ? ref.length / 3 : 0;
                int keyTo = key.endsWith("attn.qkv.bias") ? 2 * ref.length / 3 : 0;
                double update = 0;
                double error = 0;
                double worst = 0;
                for (int i = 0; i < ref.length; i++) {
                    worst = Math.max(worst, Math.abs(got[i] - ref[i]));
                    if (i >= keyFrom && i < keyTo) {
                        continue;
                    }
                    update += (ref[i] - start[i]) * (ref[i] - start[i]);
                    error += (got[i] - ref[i]) * (got[i] - ref[i]);
                }
                assertTrue(Math.sqrt(error) <= updateRtol * Math.sqrt(update), key + ": update off by " + Math.sqrt(error) + " against "
                        + Math.sqrt(update) + " (rule 1)");
                assertTrue(worst <= frac * sumLr, key + ": an element off by " + worst + " > " + frac + " × Σ lr (rule 2)");
            });
            TreeSet<String> names = new TreeSet<>();
            c.get("trainable").forEach(t -> names.add(t.asText()));
            assertEquals(names, compared);
        }
    }

    private static void assertLoss(JsonNode c, int k, double loss, double rtol) {
        double ref = c.get("losses").get("fp64").get(k).asDouble();
        assertTrue(Math.abs(loss - ref) <= rtol * Math.abs(ref), "loss after " + k + " steps: " + loss + " vs " + ref);
    }
}
