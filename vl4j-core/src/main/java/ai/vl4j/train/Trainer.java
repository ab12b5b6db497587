package ai.vl4j.train;

import ai.vl4j.nn.LoraAdapter;
import ai.vl4j.nn.Parameter;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.train.data.Batch;
import ai.vl4j.train.data.DataLoader;
import ai.vl4j.train.data.TrainingSample;
import ai.vl4j.train.io.Adapter;
import ai.vl4j.train.io.MetricsLog;
import ai.vl4j.train.io.ModelWriter;
import ai.vl4j.train.io.TrainingState;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A training run: batches from a {@link DataLoader}, the {@link Objective}'s loss and gradients (accumulated over
 * micro-batches), global-norm clipping, {@link AdamW} with an {@link LrSchedule}; a metrics line per step,
 * checkpoints every K steps from which a run resumes exactly (weights, optimizer state, data order), and the trained
 * model at the end: a model folder in the official layout (trained tensors in the save dtype, frozen ones as they
 * were) or, with LoRA, a PEFT adapter folder.
 */
public final class Trainer {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * A run's settings.
     *
     * @param steps          optimizer steps in all
     * @param microBatch     samples per forward/backward group (gradients accumulate over the batch; 0: the whole batch)
     * @param clip           the global gradient norm's limit (0: no clipping)
     * @param checkpointActivations recompute each layer's activations in backward (less memory, one more forward)
     * @param saveDtype      dtype of trained tensors in the final model (checkpoints keep float32)
     * @param out            the final model or adapter folder (checkpoints go in out/checkpoint-K)
     * @param metrics        the metrics JSONL (null: none)
     * @param dumpGrads      where to write step 1's unclipped gradients (null: nowhere)
     * @param saveEvery      a checkpoint every this many steps (0: only at the end)
     */
    public record Options(int steps, LrSchedule schedule, float weightDecay, float beta1, float beta2, float eps, double clip,
                          int microBatch, boolean checkpointActivations, DType saveDtype, Path out, Path metrics, Path dumpGrads,
                          int saveEvery, long featureCacheBytes) {
        public Options {
            if (steps < 1) {
                throw new IllegalArgumentException("--steps must be at least 1, got " + steps);
            }
            if (saveDtype != DType.F32 && saveDtype != DType.BF16 && saveDtype != DType.F16) {
                throw new IllegalArgumentException("--save-dtype must be f32, bf16 or f16, got " + saveDtype);
            }
            if (clip < 0 || saveEvery < 0 || microBatch < 0) {
                throw new IllegalArgumentException("--clip, --save-every and --micro-batch must not be negative");
            }
        }
    }

    /** What one optimizer step did. */
    public record Step(int step, int steps, double loss, double lr, double gradNorm, long tokens, long supervised, double seconds) {
    }

    /** Progress of a run: a line per step, and the checkpoints. */
    public interface Listener {
        void step(Step s);

        default void saved(Path folder) {
        }

        Listener NONE = s -> {
        };
    }

    private final DeepSeekVl vl;
    private final Options options;
    private final List<Parameter> trainable;
    private final List<LoraAdapter> adapters;   // empty unless LoRA trains
    private final Adapter adapterTemplate;      // the PEFT config the adapters were made with (LoRA only)
    private final Objective objective;
    private final AdamW adam;
    private final JsonNode hyperParameters;
    private StepTimes times;                    // null: steps are not timed phase by phase

    /**
     * @param adapters        the LoRA adapters attached to vl (empty: the model's own trainable parameters train)
     * @param adapterTemplate the PEFT adapter config of those adapters (null without LoRA)
     * @param hyperParameters the run's settings as JSON, saved in checkpoints
     */
    public Trainer(DeepSeekVl vl, Options options, List<LoraAdapter> adapters, Adapter adapterTemplate, JsonNode hyperParameters) {
        this.vl = vl;
        this.options = options;
        this.adapters = List.copyOf(adapters);
        this.adapterTemplate = adapterTemplate;
        this.trainable = new ArrayList<>();
        for (Parameter p : vl.parameters()) {
            if (p.trainable()) {
                trainable.add(p);
            }
        }
        if (trainable.isEmpty()) {
            throw new IllegalArgumentException("nothing trains: choose a --stage, --train modules or --lora-rank");
        }
        this.objective = new Objective(vl, options.checkpointActivations(), options.featureCacheBytes());
        this.adam = new AdamW(options.beta1(), options.beta2(), options.eps(), options.weightDecay());
        this.hyperParameters = hyperParameters;
    }

    /** The parameters that train, in checkpoint order. */
    public List<Parameter> trainable() {
        return trainable;
    }

    /** Trainable parameter count. */
    public long trainableCount() {
        long n = 0;
        for (Parameter p : trainable) {
            n += p.numel();
        }
        return n;
    }

    /**
     * Runs steps (or, after {@link #resume}, the steps left) over loader's batches; writes the metrics, checkpoints and
     * the final model.
     */
    public void run(DataLoader loader, Listener listener) {
        int first = adam.steps() + 1;
        try (MetricsLog metrics = options.metrics() == null ? null
                : first == 1 ? MetricsLog.create(options.metrics()) : MetricsLog.resume(options.metrics(), first - 1)) {
            for (int s = first; s <= options.steps(); s++) {
                long t0 = System.nanoTime();
                Batch batch = loader.nextBatch();
                Step taken = step(batch);
                Step step = new Step(s, options.steps(), taken.loss(), taken.lr(), taken.gradNorm(), taken.tokens(), taken.supervised(),
                        (System.nanoTime() - t0) / 1e9);    // the time of drawing the batch included
                if (metrics != null) {
                    ObjectNode r = JSON.createObjectNode();
                    r.put("step", s);
                    r.put("loss", step.loss());
                    r.put("lr", step.lr());
                    r.put("grad_norm", step.gradNorm());
                    r.put("tokens", step.tokens());
                    r.put("supervised_tokens", step.supervised());
                    r.put("seconds", step.seconds());
                    metrics.write(r);
                }
                listener.step(step);
                if (options.saveEvery() > 0 && s % options.saveEvery() == 0 && s < options.steps()) {
                    Path dir = TrainingState.checkpointDir(options.out(), s);
                    state(loader).save(dir);
                    listener.saved(dir);
                }
            }
        }
        saveFinal();
        listener.saved(options.out());
    }

    /**
     * One optimizer step (the next after {@link #stepsTaken()}) on batch: gradients zeroed, the loss and gradients of
     * every micro-batch, step 1's gradients dumped if asked, the global norm and clipping, AdamW at the schedule's
     * learning rate. {@link #run} calls it for each batch; a benchmark may call it alone (nothing is written then
     * but the dumped gradients).
     */
    public Step step(Batch batch) {
        int s = adam.steps() + 1;
        long t0 = System.nanoTime();
        for (Parameter p : trainable) {
            p.zeroGrad();
        }
        if (times != null) {
            times.since(StepTimes.Phase.OPTIMIZER, t0);
        }
        List<TrainingSample> samples = batch.samples();
        long n = Objective.supervised(samples);
        if (n == 0) {
            throw new IllegalArgumentException("step " + s + ": the batch (" + samples.getFirst().source()
                    + " ...) has no supervised token");
        }
        double loss = 0;
        int micro = options.microBatch() == 0 ? samples.size() : options.microBatch();
        for (int i = 0; i < samples.size(); i += micro) {
            loss += objective.lossAndGradients(samples.subList(i, Math.min(samples.size(), i + micro)), n);
        }
        if (s == 1 && options.dumpGrads() != null) {
            dumpGradients(options.dumpGrads());
        }
        long tOptimizer = System.nanoTime();
        double norm = GradClip.norm(trainable);
        if (options.clip() > 0) {
            GradClip.clip(trainable, norm, options.clip());
        }
        double lr = options.schedule().at(s);
        adam.step(trainable, lr);
        if (times != null) {
            times.since(StepTimes.Phase.OPTIMIZER, tOptimizer);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        return new Step(s, options.steps(), loss, lr, norm, batch.tokens(), n, seconds);
    }

    /** Adds the time of each phase of every step to times from now on (null: stop timing); see {@link StepTimes}. */
    public void timeWith(StepTimes times) {
        this.times = times;
        objective.timeWith(times);
    }

    /** Continues from a checkpoint folder: weights, optimizer state and step; returns its data cursor. */
    public JsonNode resume(Path checkpoint) {
        Map<String, long[]> expected = new LinkedHashMap<>();
        for (Parameter p : trainable) {
            expected.put(p.name(), p.shape());
        }
        TrainingState state = TrainingState.load(checkpoint, expected);
        Map<String, float[]> tensors = state.weights().tensors();
        Map<Parameter, float[][]> moments = new java.util.IdentityHashMap<>();
        for (Parameter p : trainable) {
            float[] v = tensors.get(p.name());
            System.arraycopy(v, 0, p.values(), 0, v.length);
            TrainingState.Moments m = state.moments().get(p.name());
            moments.put(p, new float[][] {m.expAvg().clone(), m.expAvgSq().clone()});
        }
        if (state.step() >= options.steps()) {
            throw new IllegalArgumentException(checkpoint + " is after step " + state.step() + ", not before the run's last (--steps "
                    + options.steps() + ")");
        }
        adam.restore((int) state.step(), moments);
        return state.dataCursor();
    }

    /** Steps taken (after a resume: the checkpoint's). */
    public int stepsTaken() {
        return adam.steps();
    }

    private TrainingState state(DataLoader loader) {
        Map<String, TrainingState.Moments> moments = new TreeMap<>();
        Map<String, float[]> values = new TreeMap<>();
        for (Parameter p : trainable) {
            float[][] mv = adam.moments(p);
            moments.put(p.name(), new TrainingState.Moments(mv[0], mv[1]));
            values.put(p.name(), p.values());
        }
        TrainingState.TrainedWeights weights = adapters.isEmpty()
                ? new TrainingState.FullModel(vl.folder(), values)
                : new TrainingState.LoraAdapter(adapterTemplate.withParameters(values));
        JsonNode cursor;
        try {
            cursor = JSON.readTree(loader.cursor().toJson());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new TrainingState(adam.steps(), weights, moments, hyperParameters, cursor, null, List.of());
    }

    /** The final model folder (trained tensors in the save dtype), or the adapter folder with LoRA. */
    private void saveFinal() {
        if (!adapters.isEmpty()) {
            Map<String, float[]> values = new TreeMap<>();
            for (Parameter p : trainable) {
                values.put(p.name(), p.values());
            }
            adapterTemplate.withParameters(values).write(options.out());
            return;
        }
        Map<String, float[]> replaced = new LinkedHashMap<>();
        for (Parameter p : trainable) {
            replaced.put(p.name(), p.values());
        }
        ModelWriter.write(vl.folder(), replaced, options.out(), ModelWriter.Options.of(options.saveDtype()));
    }

    /** Every trainable tensor's gradient, in full, float32, under its checkpoint (or PEFT) name. */
    private void dumpGradients(Path file) {
        List<Tensor> tensors = new ArrayList<>();
        for (Parameter p : trainable) {
            tensors.add(Tensor.ofFloats(p.name(), p.grad(), p.shape()));
        }
        try {
            SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }
}
