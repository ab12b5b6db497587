package ai.vl4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.nn.Parameter;
import ai.vl4j.vlm.DeepSeekVl;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * {@link TrainingSetup#estimateBytes(DeepSeekVl, Set, int, boolean, int)}: the estimate a run is refused by is asked
 * before anything is allocated (a full stage 3 of the 1.3B died of OutOfMemoryError in {@code train()}'s float32
 * copies before the check), and it is the estimate of the run that then trains.
 */
class MemoryEstimateTest {
    @Test
    void theEstimateBeforeTrainingEqualsTheOneAfterAndAllocatesNothing() {
        Path dir = TrainFixtures.cases("stage3").findFirst().orElseThrow();
        try (DeepSeekVl vl = DeepSeekVl.load(TrainFixtures.modelDir(dir))) {
            for (int stage = 1; stage <= 3; stage++) {
                for (boolean checkpoint : new boolean[] {false, true}) {
                    for (Parameter p : vl.parameters()) {
                        p.freeze();
                    }
                    Set<TrainingSetup.Part> parts = TrainingSetup.stage(stage);
                    long before = TrainingSetup.estimateBytes(vl, parts, 100, checkpoint, 0);
                    for (Parameter p : vl.parameters()) {
                        assertFalse(p.trainable(), p.name() + " trains after the estimate alone");
                    }
                    TrainingSetup.train(vl, parts);
                    assertEquals(TrainingSetup.estimateBytes(vl, 100, checkpoint, 0), before, "stage " + stage + ", checkpoint " + checkpoint);
                }
            }
            // more parts cost more; a heap below the estimate is refused in one line naming both sizes
            long s1 = TrainingSetup.estimateBytes(vl, TrainingSetup.stage(1), 100, true, 0);
            long s3 = TrainingSetup.estimateBytes(vl, TrainingSetup.stage(3), 100, true, 0);
            assertTrue(s3 > s1, s1 + " vs " + s3);
            assertNull(TrainingSetup.memoryProblem(s3, s3, false, true));
            String problem = TrainingSetup.memoryProblem(s3, s3 - 1, false, true);
            assertNotNull(problem);
            assertTrue(problem.contains("--lora-rank") && !problem.contains("\n"), problem);
        }
    }
}
