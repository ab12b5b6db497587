package ai.vl4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.nn.Parameter;
import ai.vl4j.tensor.DType;
import ai.vl4j.train.data.Batch;
import ai.vl4j.train.data.TrainingSample;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Trainer#step} timed phase by phase ({@link StepTimes}): the phases cover the step, and timing changes nothing. */
class StepTimesTest {
    private static final int STEPS = 2;

    @Test
    void timedStepsLearnAsUntimedOnesAndThePhasesCoverThem() {
        Path dir = TrainFixtures.cases("stage1").findFirst().orElseThrow();
        List<TrainingSample> batch = TrainFixtures.batch(dir);
        StepTimes times = new StepTimes();
        List<Double> stepSeconds = new ArrayList<>();
        float[] untimed = train(dir, batch, null, new ArrayList<>());
        float[] timed = train(dir, batch, times, stepSeconds);

        assertEquals(untimed.length, timed.length);
        for (int i = 0; i < untimed.length; i++) {     // JIT tiers may round differently: equal within float rounding
            assertEquals(untimed[i], timed[i], 1e-5 + 1e-5 * Math.abs(untimed[i]), "value " + i + " (the losses first)");
        }
        double phases = 0;
        for (StepTimes.Phase p : StepTimes.Phase.values()) {
            assertTrue(times.seconds(p) >= 0, p.label());
            phases += times.seconds(p);
        }
        double steps = stepSeconds.stream().mapToDouble(Double::doubleValue).sum();
        // the phases are disjoint stretches of the steps, and nearly all of them (only bookkeeping is left out)
        assertTrue(phases <= steps + 1e-6 && phases >= 0.5 * steps, phases + " s in phases, " + steps + " s in steps");
        assertTrue(times.seconds(StepTimes.Phase.LLM_FORWARD) > 0 && times.seconds(StepTimes.Phase.LLM_BACKWARD) > 0
                && times.seconds(StepTimes.Phase.VISION) > 0 && times.seconds(StepTimes.Phase.LOSS) > 0);
        assertEquals(times.forwardSeconds(), times.seconds(StepTimes.Phase.VISION) + times.seconds(StepTimes.Phase.ALIGNER)
                + times.seconds(StepTimes.Phase.LLM_FORWARD), 1e-12);
        times.reset();
        assertEquals(0, times.forwardSeconds() + times.backwardSeconds() + times.seconds(StepTimes.Phase.OPTIMIZER));
    }

    /** STEPS stage-1 steps on the batch; returns each step's loss, then every trained value. */
    private static float[] train(Path dir, List<TrainingSample> samples, StepTimes times, List<Double> stepSeconds) {
        try (DeepSeekVl vl = DeepSeekVl.load(TrainFixtures.modelDir(dir))) {
            TrainingSetup.train(vl, TrainingSetup.stage(1));
            Trainer.Options options = new Trainer.Options(STEPS, new LrSchedule("constant", 1e-3, 0, STEPS, 1, 1, 1), 0.1f, 0.9f, 0.95f,
                    1e-8f, 1.0, 0, false, DType.F32, null, null, null, 0, 0);
            Trainer trainer = new Trainer(vl, options, List.of(), null, new ObjectMapper().createObjectNode());
            trainer.timeWith(times);
            List<Float> out = new ArrayList<>();
            for (int s = 1; s <= STEPS; s++) {
                Trainer.Step step = trainer.step(new Batch(samples, null));
                assertEquals(s, step.step());
                out.add((float) step.loss());
                stepSeconds.add(step.seconds());
            }
            for (Parameter p : trainer.trainable()) {
                for (float v : p.values()) {
                    out.add(v);
                }
            }
            float[] values = new float[out.size()];
            for (int i = 0; i < values.length; i++) {
                values[i] = out.get(i);
            }
            return values;
        }
    }
}
