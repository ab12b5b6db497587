package ai.vl4j.bench;

import ai.vl4j.nn.Parameter;
import ai.vl4j.train.Lora;
import ai.vl4j.train.LrSchedule;
import ai.vl4j.train.StepTimes;
import ai.vl4j.train.StepTimes.Phase;
import ai.vl4j.train.Trainer;
import ai.vl4j.train.TrainingSetup;
import ai.vl4j.train.data.Batch;
import ai.vl4j.train.data.SampleEncoder;
import ai.vl4j.train.data.SampleSource;
import ai.vl4j.train.data.TrainingSample;
import ai.vl4j.tensor.DType;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Times training steps of DeepSeek-VL (issue 15's benchmark), the way {@code vl4j train} takes them
 * ({@link Trainer#step}): for each setup and activation mode, a freshly loaded model, one warm-up step and then
 * timed steps on a batch of copies of one sample, each phase timed ({@link StepTimes}), with the memory the steps
 * took ({@link MemoryPeaks}) beside the heap {@link TrainingSetup#estimateBytes} predicts for them.
 * <pre>
 *   stage1        stage 1: the aligner trains; the gradient flows back through the frozen language model to the
 *                 image rows. Sample: one image and a caption.
 *   stage3_lora   stage 3 with LoRA: rank-r adapters on every projection of the language model (q, k, v, o, gate,
 *                 up, down), every checkpoint tensor frozen. Sample: one image and a one-round conversation.
 * </pre>
 * Both samples are made as long as asked (the caption's or the answer's words repeated), so the two setups and a
 * PyTorch run ({@code scripts/train_torch_bench.py}) can take the same shapes. Frozen vision features are computed
 * anew at every step (no feature cache), as in a first epoch.
 */
public final class TrainingBenchmark {
    /** What trains, and on which sample. */
    public enum Setup {
        STAGE1("stage1", 1), STAGE3_LORA("stage3_lora", 3);

        /** Its name in reports. */
        public final String label;
        /** The paper's stage. */
        public final int stage;

        Setup(String label, int stage) {
            this.label = label;
            this.stage = stage;
        }

        /** 1 or 3, as {@code --stages} takes them. */
        public static Setup ofStage(int stage) {
            return switch (stage) {
                case 1 -> STAGE1;
                case 3 -> STAGE3_LORA;
                default -> throw new IllegalArgumentException("--stages takes 1 (the aligner) and 3 (LoRA on the language model), got " + stage);
            };
        }
    }

    /**
     * @param setups        what to time, in order
     * @param checkpointing activation modes to time each setup in (true: recomputed in backward, false: kept)
     * @param loraRank      the adapters' rank (alpha = 2 × rank, as {@code vl4j train})
     * @param batchSize     samples per step (copies of one sample)
     * @param sampleTokens  the length each sample is made up to (image positions included)
     * @param runs          timed steps after one warm-up step
     * @param image         the sample's image file
     */
    public record Options(List<Setup> setups, List<Boolean> checkpointing, int loraRank, int batchSize, int sampleTokens, int runs, Path image) {
        public Options {
            setups = List.copyOf(setups);
            checkpointing = List.copyOf(checkpointing);
            if (setups.isEmpty() || checkpointing.isEmpty()) {
                throw new IllegalArgumentException("nothing to time: give at least one stage and one activation mode");
            }
            if (loraRank < 1 || batchSize < 1 || runs < 1 || sampleTokens < 1) {
                throw new IllegalArgumentException("--lora-rank, --batch-size, --runs and --sample-tokens must be at least 1");
            }
        }
    }

    /**
     * One setup in one activation mode.
     *
     * @param loraRank         the adapters' rank (0 without LoRA)
     * @param seqLen           tokens per sample (T, the image's positions included)
     * @param imageStart       the first image position
     * @param supervised       supervised positions per sample (rows the loss scores)
     * @param phases           seconds per phase of a step ({@link Phase#label()}), over the timed steps
     * @param forward          vision tower + aligner + language model, per step
     * @param loss             lm_head at the supervised rows, the cross-entropy and their gradient
     * @param backward         the language model's backward pass and the aligner's, tower's and embedding's
     * @param optimizer        zeroing, clipping, AdamW
     * @param step             a whole step (what {@link Trainer#step} took)
     * @param cpu              the process's CPU seconds per step (every thread, the collector's and compiler's too)
     * @param firstLoss        the loss of the warm-up step (at the starting weights)
     * @param estimatedHeap    {@link TrainingSetup#estimateBytes} for this run
     * @param heapAfterGc      see {@link MemoryPeaks#heapAfterGcBytes()}: loading, set-up and every step
     */
    public record Result(Setup setup, int loraRank, boolean checkpointActivations, int batchSize, int seqLen, int imageStart, int supervised,
                         long trainableParameters, int runs, Map<String, PipelineBenchmark.Stats> phases,
                         PipelineBenchmark.Stats forward, PipelineBenchmark.Stats loss, PipelineBenchmark.Stats backward,
                         PipelineBenchmark.Stats optimizer, PipelineBenchmark.Stats step, PipelineBenchmark.Stats cpu, double firstLoss,
                         long estimatedHeap, long maxHeap, long peakHeap, long heapAfterGc, long peakRss, boolean rssOwn) {
        /** Tokens through the model per second of a median step (every position of every sample, images included). */
        public double tokensPerSecond() {
            return (double) batchSize * seqLen / step.median();
        }
    }

    private static final String WORDS = "a brown dog with a red collar sits on green grass in front of a white fence while the "
            + "afternoon sun lights its fur and a blue ball lies beside its front paws";

    private TrainingBenchmark() {
    }

    /** Times every setup in every activation mode, in that order; progress gets a line per step. */
    public static List<Result> run(Path model, Options options, Consumer<String> progress) {
        List<Result> results = new ArrayList<>();
        for (Setup setup : options.setups()) {
            for (boolean checkpoint : options.checkpointing()) {
                results.add(run(model, setup, checkpoint, options, progress));
            }
        }
        return results;
    }

    private static Result run(Path model, Setup setup, boolean checkpoint, Options options, Consumer<String> progress) {
        String name = setup.label + ", activations " + (checkpoint ? "recomputed" : "kept");
        progress.accept(name + ": loading");
        try (MemoryPeaks memory = MemoryPeaks.start(); DeepSeekVl vl = DeepSeekVl.load(model)) {
            TrainingSample sample = sample(new SampleEncoder(vl.tokenizer(), vl.config()), vl.config().chatProcessor().imageTag(), setup,
                    options.image(), options.sampleTokens());
            TrainingSetup.LoraSetup lora = setup == Setup.STAGE3_LORA
                    ? TrainingSetup.lora(vl, null, options.loraRank(), 2.0 * options.loraRank(), Lora.ALL_PROJECTIONS, 0)
                    : null;
            long estimate = lora != null ? TrainingSetup.estimateBytes(vl, sample.length(), checkpoint, 0)
                    : TrainingSetup.estimateBytes(vl, TrainingSetup.stage(setup.stage), sample.length(), checkpoint, 0);
            long maxHeap = Runtime.getRuntime().maxMemory();
            String problem = TrainingSetup.memoryProblem(estimate, maxHeap, lora != null, checkpoint);
            if (problem != null) {
                throw new IllegalArgumentException(setup.label + ": " + problem);
            }
            if (lora == null) {
                TrainingSetup.train(vl, TrainingSetup.stage(setup.stage));
            }
            int stage = lora != null ? 0 : setup.stage;
            Trainer.Options trainerOptions = new Trainer.Options(options.runs() + 1,
                    new LrSchedule("constant", TrainingSetup.defaultLr(stage), 0, options.runs() + 1, 1, 1, 1),
                    0.1f, 0.9f, 0.95f, 1e-8f, 1.0, 0, checkpoint, DType.BF16, null, null, null, 0, 0);
            Trainer trainer = new Trainer(vl, trainerOptions, lora != null ? lora.adapters() : List.of(),
                    lora != null ? lora.template() : null, new ObjectMapper().createObjectNode());
            Batch batch = new Batch(Collections.nCopies(options.batchSize(), sample), null);

            StepTimes times = new StepTimes();
            trainer.timeWith(times);
            Map<String, List<Double>> phases = new LinkedHashMap<>();
            List<Double> forward = new ArrayList<>(), loss = new ArrayList<>(), backward = new ArrayList<>(), optimizer = new ArrayList<>();
            List<Double> steps = new ArrayList<>(), cpu = new ArrayList<>();
            double firstLoss = Double.NaN;
            for (int run = 0; run <= options.runs(); run++) {          // run 0 warms the JIT and the page cache
                progress.accept(name + (run == 0 ? ": warm-up step" : ": step " + run + "/" + options.runs()));
                times.reset();
                long cpu0 = processCpuNanos();
                Trainer.Step step = trainer.step(batch);
                long cpu1 = processCpuNanos();
                if (run == 0) {
                    firstLoss = step.loss();
                    continue;
                }
                for (Phase phase : Phase.values()) {
                    phases.computeIfAbsent(phase.label(), k -> new ArrayList<>()).add(times.seconds(phase));
                }
                forward.add(times.forwardSeconds());
                loss.add(times.seconds(Phase.LOSS));
                backward.add(times.backwardSeconds());
                optimizer.add(times.seconds(Phase.OPTIMIZER));
                steps.add(step.seconds());
                cpu.add(cpu0 < 0 ? Double.NaN : (cpu1 - cpu0) / 1e9);
            }
            Map<String, PipelineBenchmark.Stats> phaseStats = new LinkedHashMap<>();
            phases.forEach((k, v) -> phaseStats.put(k, PipelineBenchmark.Stats.of(v)));
            long trained = 0;
            for (Parameter p : trainer.trainable()) {
                trained += p.numel();
            }
            return new Result(setup, lora != null ? options.loraRank() : 0, checkpoint, options.batchSize(), sample.length(), sample.imageSpans().getFirst().start(),
                    sample.nSupervised(), trained, options.runs(), phaseStats, PipelineBenchmark.Stats.of(forward),
                    PipelineBenchmark.Stats.of(loss), PipelineBenchmark.Stats.of(backward), PipelineBenchmark.Stats.of(optimizer),
                    PipelineBenchmark.Stats.of(steps), PipelineBenchmark.Stats.of(cpu), firstLoss, estimate, maxHeap,
                    memory.heapBytes(), memory.heapAfterGcBytes(), memory.rssBytes(), memory.rssIsOwn());
        }
    }

    /**
     * The setup's sample, made up to at most tokens positions: stage 1 a caption ({@code <image_placeholder>} and
     * words), stage 3 a conversation (the image and a question, then an answer of words); the words are as many as fit
     * (at least one).
     */
    static TrainingSample sample(SampleEncoder encoder, String imageTag, Setup setup, Path image, int tokens) {
        int lo = 1;
        int hi = Math.max(1, tokens);
        TrainingSample best = withWords(encoder, imageTag, setup, image, 1);
        if (best.length() > tokens) {
            return best;
        }
        while (lo < hi) {                          // the most words whose sample still fits
            int mid = (lo + hi + 1) >>> 1;
            TrainingSample s = withWords(encoder, imageTag, setup, image, mid);
            if (s.length() <= tokens) {
                lo = mid;
                best = s;
            } else {
                hi = mid - 1;
            }
        }
        return best;
    }

    /** The setup's sample with a caption or answer of that many words, as a JSONL line would give it. */
    private static TrainingSample withWords(SampleEncoder encoder, String imageTag, Setup setup, Path image, int words) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode line = json.createObjectNode();
        line.putArray("images").add(image.toAbsolutePath().toString());
        String text = words(words);
        if (setup == Setup.STAGE1) {
            line.put("text", imageTag + text);
        } else {
            ArrayNode turns = line.putArray("conversations");
            turns.addObject().put("role", "User").put("content", imageTag + "Describe this picture.");
            turns.addObject().put("role", "Assistant").put("content", text);
        }
        SampleSource source = new SampleSource(Path.of("bench --train"), 1);
        return encoder.encode(encoder.parser().parse(line.toString(), source, image.toAbsolutePath().getParent()));
    }

    /** The first n words of a description, over and over. */
    static String words(int n) {
        String[] all = WORDS.split(" ");
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                out.append(i % all.length == 0 ? ". " : " ");
            }
            out.append(all[i % all.length]);
        }
        return out.append('.').toString();
    }

    /** The process's CPU time (every thread), or -1 where the JVM cannot tell. */
    private static long processCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }

    /** One line per result, for the terminal. */
    public static String describe(Result r) {
        return String.format(Locale.ROOT, "%-12s %-10s T=%d B=%d  step %.2f s (forward %.2f, loss %.2f, backward %.2f, optimizer %.3f), "
                        + "%.0f tok/s, CPU %.2f s/step | heap peak %d MB, after GC %d MB, estimated %d MB (max %d MB), RSS %d MB",
                r.setup().label, r.checkpointActivations() ? "recompute" : "keep", r.seqLen(), r.batchSize(), r.step().median(),
                r.forward().median(), r.loss().median(), r.backward().median(), r.optimizer().median(), r.tokensPerSecond(),
                r.cpu().median(), r.peakHeap() >> 20, r.heapAfterGc() >> 20, r.estimatedHeap() >> 20, r.maxHeap() >> 20,
                r.peakRss() < 0 ? -1 : r.peakRss() >> 20);
    }
}
