package ai.vl4j.train;

import ai.vl4j.llm.KvCache;
import ai.vl4j.llm.LlamaConfig;
import ai.vl4j.llm.LlamaModel;
import ai.vl4j.llm.TrainingTape;
import ai.vl4j.train.data.TrainingSample;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.vision.HybridVisionTower;
import ai.vl4j.vision.SigLipVit;
import ai.vl4j.vision.VisionTower;
import ai.vl4j.vlm.MlpAligner;
import java.util.ArrayList;
import java.util.List;

/**
 * DeepSeek-VL's training objective (the training fixture's README §4): each sample on its own, its images through
 * the vision tower and the aligner and their rows written over the image positions of the token embeddings, the
 * language model, and the token cross-entropy at every supervised position (the logits at t predict labels[t+1]);
 * the batch loss is the sum over all samples' supervised tokens divided once by their number, so splitting a batch
 * (micro-batches, accumulation) cannot change it. The backward pass accumulates the gradient of every parameter
 * that trains; frozen parts only pass gradients through (the language model, for an aligner that trains).
 */
public final class Objective {
    private final DeepSeekVl vl;
    private final boolean checkpoint;
    private final FeatureCache features;
    private StepTimes times;       // null: not timed

    /** @param checkpoint recompute each layer's activations in backward instead of keeping them (less memory) */
    public Objective(DeepSeekVl vl, boolean checkpoint) {
        this(vl, checkpoint, 256L << 20);
    }

    /**
     * @param featureCacheBytes memory for the vision features of images seen before, kept while the tower is frozen
     *                          (an image met again in a later epoch skips the tower; SAM-B's pass is seconds); 0: none
     */
    public Objective(DeepSeekVl vl, boolean checkpoint, long featureCacheBytes) {
        this.vl = vl;
        this.checkpoint = checkpoint;
        this.features = new FeatureCache(featureCacheBytes);
    }

    /** Adds the time of each phase of the samples' passes to times from now on (null: stop timing). */
    public void timeWith(StepTimes times) {
        this.times = times;
    }

    /** Ends a phase that began at t0: its time goes to the {@link StepTimes}, if any; returns now. */
    private long mark(StepTimes.Phase phase, long t0) {
        return times == null ? System.nanoTime() : times.since(phase, t0);
    }

    /** Supervised positions of a batch: the N of the mean. */
    public static long supervised(List<TrainingSample> samples) {
        long n = 0;
        for (TrainingSample s : samples) {
            n += s.nSupervised();
        }
        return n;
    }

    /** The batch loss (Σ CE / N), forward only. */
    public double loss(List<TrainingSample> samples) {
        long n = supervised(samples);
        double total = 0;
        for (TrainingSample s : samples) {
            total += sample(s, 1f, false);
        }
        return total / n;
    }

    /**
     * The loss of samples, a part of a batch whose supervised tokens number batchSupervised, and the gradients of
     * its contribution to that batch's loss, added to the parameters' gradients. Returns Σ CE of these samples
     * divided by batchSupervised (summing the parts of a batch gives the batch loss).
     */
    public double lossAndGradients(List<TrainingSample> samples, long batchSupervised) {
        float scale = (float) (1.0 / batchSupervised);
        double total = 0;
        for (TrainingSample s : samples) {
            total += sample(s, scale, true);
        }
        return total / batchSupervised;
    }

    /**
     * The tower's features with SigLIP's pass kept on tape: the 1.3B tower is SigLIP; the 7B hybrid tower runs SAM-B
     * forward only (frozen in every stage: its features come from the cache when the image was seen) and SigLIP on
     * the low-resolution image.
     */
    private float[][] trainingFeatures(java.nio.file.Path image, float[] pixels, SigLipVit.Tape tape) {
        VisionTower tower = vl.visionTower();
        if (tower instanceof HybridVisionTower hybrid) {
            float[] high = features.get(image, "sam", () -> new float[][] {hybrid.sam().forward(pixels)})[0];
            return new float[][] {high, hybrid.siglip().forward(hybrid.lowResolution(pixels), tape)};
        }
        return new float[][] {((SigLipVit) tower).forward(pixels, tape)};
    }

    private SigLipVit siglip() {
        return vl.visionTower() instanceof HybridVisionTower hybrid ? hybrid.siglip() : (SigLipVit) vl.visionTower();
    }

    /** Whether any parameter of the vision tower trains (then its features are computed afresh, never cached). */
    private boolean towerTrains() {
        for (ai.vl4j.nn.Parameter p : vl.visionTower().parameters()) {
            if (p.trainable()) {
                return true;
            }
        }
        return false;
    }

    /** Σ CE over one sample's supervised positions; with backward, its gradient times scale accumulates. */
    private double sample(TrainingSample sample, float scale, boolean backward) {
        LlamaModel llm = vl.languageModel();
        LlamaConfig cfg = llm.config();
        int h = cfg.hiddenSize();
        int[] ids = sample.inputIds();
        int t = ids.length;
        // input embeddings: token rows, each image's aligned rows over its span
        long t0 = System.nanoTime();
        float[] x = llm.embed(ids);
        t0 = mark(StepTimes.Phase.LLM_FORWARD, t0);
        List<TrainingSample.ImageSpan> spans = sample.imageSpans();
        List<MlpAligner.Tape> alignerTapes = new ArrayList<>();
        List<SigLipVit.Tape> towerTapes = new ArrayList<>();
        boolean towerTrains = backward && towerTrains();
        for (int i = 0; i < spans.size(); i++) {
            TrainingSample.ImageSpan span = spans.get(i);
            int image = i;
            float[][] features;
            if (towerTrains) {
                SigLipVit.Tape towerTape = new SigLipVit.Tape();
                features = trainingFeatures(sample.images().get(image), sample.pixels(image), towerTape);
                towerTapes.add(towerTape);
            } else {
                features = this.features.get(sample.images().get(image), "tower", () -> vl.visionFeatures(sample.pixels(image)));
            }
            t0 = mark(StepTimes.Phase.VISION, t0);
            MlpAligner.Tape tape = backward ? new MlpAligner.Tape() : null;
            float[] rows = vl.aligner().forward(features, span.end() - span.start(), tape);
            System.arraycopy(rows, 0, x, span.start() * h, rows.length);
            alignerTapes.add(tape);
            t0 = mark(StepTimes.Phase.ALIGNER, t0);
        }
        // the supervised positions: logits at p predict labels[p + 1]
        int[] labels = sample.labels();
        int count = 0;
        for (int p = 0; p + 1 < t; p++) {
            if (labels[p + 1] != TrainingSample.IGNORE) {
                count++;
            }
        }
        int[] rows = new int[count];
        int[] targets = new int[count];
        for (int p = 0, i = 0; p + 1 < t; p++) {
            if (labels[p + 1] != TrainingSample.IGNORE) {
                rows[i] = p;
                targets[i++] = labels[p + 1];
            }
        }
        if (!backward) {
            float[] hidden = llm.forward(x, t, new KvCache(cfg, t));
            t0 = mark(StepTimes.Phase.LLM_FORWARD, t0);
            double loss = llm.loss(hidden, t, rows, targets, scale, null);
            mark(StepTimes.Phase.LOSS, t0);
            return loss;
        }
        TrainingTape tape = new TrainingTape(cfg, t, checkpoint);
        float[] hidden = llm.forward(x, tape);
        t0 = mark(StepTimes.Phase.LLM_FORWARD, t0);
        float[] dHidden = new float[t * h];
        double loss = llm.loss(hidden, t, rows, targets, scale, dHidden);
        t0 = mark(StepTimes.Phase.LOSS, t0);
        float[] dx = llm.backward(tape, dHidden);
        t0 = mark(StepTimes.Phase.LLM_BACKWARD, t0);
        // token rows feed embed_tokens; image rows (their lookups were overwritten) feed the aligner
        boolean[] tokenRow = new boolean[t];
        java.util.Arrays.fill(tokenRow, true);
        for (int i = 0; i < spans.size(); i++) {
            TrainingSample.ImageSpan span = spans.get(i);
            java.util.Arrays.fill(tokenRow, span.start(), span.end(), false);
            float[] dRows = java.util.Arrays.copyOfRange(dx, span.start() * h, span.end() * h);
            float[][] dFeatures = vl.aligner().backward(alignerTapes.get(i), dRows, towerTrains);
            if (towerTrains) {             // SigLIP's map is the last (the hybrid tower's low-resolution one)
                siglip().backward(towerTapes.get(i), dFeatures[dFeatures.length - 1]);
            }
        }
        llm.embedding().backward(ids, dx, tokenRow);
        mark(StepTimes.Phase.INPUT_BACKWARD, t0);
        return loss;
    }
}
