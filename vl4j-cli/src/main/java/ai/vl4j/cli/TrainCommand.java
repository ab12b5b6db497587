package ai.vl4j.cli;

import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Parallel;
import ai.vl4j.train.LrSchedule;
import ai.vl4j.train.Lora;
import ai.vl4j.train.Trainer;
import ai.vl4j.train.TrainingSetup;
import ai.vl4j.train.data.DataCursor;
import ai.vl4j.train.data.DataLoader;
import ai.vl4j.train.data.DataMixer;
import ai.vl4j.train.data.DataOptions;
import ai.vl4j.train.data.SampleEncoder;
import ai.vl4j.train.data.TrainingData;
import ai.vl4j.train.io.Adapter;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code vl4j train}: the paper's stages (or chosen modules, or LoRA) on a JSONL dataset, with AdamW, a warm-up
 * and decay schedule, clipping, checkpoints, exact resume and a metrics file.
 */
@Command(name = "train", description = "Train DeepSeek-VL: a stage of the paper, chosen modules, or LoRA adapters.", sortOptions = false)
final class TrainCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "DIR", description = "The model folder to start from.")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "Training data (JSONL: captions, text, conversations).")
    Path data;

    @Option(names = "--text-data", paramLabel = "FILE", description = "Text-only data mixed in (stage 2 of the paper).")
    Path textData;

    @Option(names = "--text-ratio", paramLabel = "X", description = "Share of samples drawn from --text-data (default 0.7: "
            + "the paper's 7 parts language to 3 multimodal).")
    Double textRatio;

    @Option(names = "--eval-data", paramLabel = "FILE", description = "Held-out data: its loss every --eval-every steps.")
    Path evalData;

    @Option(names = "--eval-every", paramLabel = "N", description = "Steps between held-out losses (default: 10 % of the steps).")
    Integer evalEvery;

    @Option(names = "--stage", paramLabel = "1|2|3", description = "1: the aligner; 2: aligner + LLM; 3: aligner + LLM + SigLIP (default 3).")
    Integer stage;

    @Option(names = "--train", paramLabel = "PARTS", description = "Modules to train instead of a stage: aligner,llm,siglip.")
    String trainParts;

    @Option(names = "--steps", required = true, paramLabel = "N", description = "Optimizer steps.")
    int steps;

    @Option(names = "--lr", paramLabel = "PEAK", description = "Peak learning rate (default by stage: 1e-3, 3e-5, 1e-5; LoRA 2e-4).")
    Double lr;

    @Option(names = "--warmup-steps", paramLabel = "W", description = "Linear warm-up steps (default: 5 % of the steps).")
    Integer warmup;

    @Option(names = "--schedule", paramLabel = "S", defaultValue = "cosine", description = "cosine (default), constant or step.")
    String schedule;

    @Option(names = "--min-lr-ratio", paramLabel = "R", defaultValue = "0.1", description = "Cosine's final lr / peak (default ${DEFAULT-VALUE}).")
    double minLrRatio;

    @Option(names = "--lr-step-size", paramLabel = "K", defaultValue = "1000", description = "The step schedule: steps per decay.")
    int lrStepSize;

    @Option(names = "--lr-gamma", paramLabel = "G", defaultValue = "0.1", description = "The step schedule: factor per decay.")
    double lrGamma;

    @Option(names = "--weight-decay", paramLabel = "WD", defaultValue = "0.1", description = "AdamW's decoupled decay on 2-D weights (default ${DEFAULT-VALUE}).")
    float weightDecay;

    @Option(names = "--betas", paramLabel = "B1,B2", defaultValue = "0.9,0.95", description = "AdamW's betas (default ${DEFAULT-VALUE}).")
    String betas;

    @Option(names = "--eps", paramLabel = "E", defaultValue = "1e-8", description = "AdamW's epsilon (default ${DEFAULT-VALUE}).")
    float eps;

    @Option(names = "--clip", paramLabel = "C", defaultValue = "1.0", description = "Global gradient-norm clipping (0: none; default ${DEFAULT-VALUE}).")
    double clip;

    @Option(names = "--batch-size", paramLabel = "B", defaultValue = "8", description = "Samples per optimizer step (default ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--micro-batch", paramLabel = "M", description = "Samples per forward/backward group; gradients accumulate over the batch.")
    Integer microBatch;

    @Option(names = "--no-shuffle", description = "Samples in file order (default: a seeded shuffle per epoch).")
    boolean noShuffle;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Seed of the data order and of LoRA's start (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--skip-bad", description = "Skip (and count) bad data lines instead of stopping at the first.")
    boolean skipBad;

    @Option(names = "--checkpoint-activations", description = "Recompute each layer's activations in backward: less memory, a third more time.")
    boolean checkpointActivations;

    @Option(names = "--save-dtype", paramLabel = "D", defaultValue = "bf16", description = "Trained tensors in the output: f32, bf16 (default) or f16.")
    String saveDtype;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The trained model (or LoRA adapter) folder.")
    Path out;

    @Option(names = "--metrics", paramLabel = "FILE", description = "One JSON line per step: step, loss, lr, grad_norm.")
    Path metrics;

    @Option(names = "--dump-grads", paramLabel = "FILE", description = "Step 1's unclipped gradients, every trainable tensor, F32 safetensors.")
    Path dumpGrads;

    @Option(names = "--save-every", paramLabel = "K", defaultValue = "0", description = "Also write OUT/checkpoint-K every K steps (resumable).")
    int saveEvery;

    @Option(names = "--resume", paramLabel = "DIR", description = "Continue from OUT/checkpoint-K of an earlier run with the same flags.")
    Path resume;

    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: all cores).")
    Integer threads;

    @Option(names = "--lora-rank", paramLabel = "R", description = "Train LoRA adapters of this rank on the language model (every checkpoint tensor frozen).")
    Integer loraRank;

    @Option(names = "--lora-alpha", paramLabel = "A", description = "LoRA alpha (default: 2 × rank); scaling alpha / rank.")
    Double loraAlpha;

    @Option(names = "--lora-targets", paramLabel = "NAMES", description = "Layers LoRA adapts (default q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj).")
    String loraTargets;

    @Option(names = "--lora-init", paramLabel = "DIR", description = "Start LoRA from this adapter folder instead of PEFT's B = 0 start.")
    Path loraInit;

    @Option(names = "--feature-cache-mb", paramLabel = "MB", defaultValue = "256",
            description = "Memory for the features of images seen before, while the vision tower is frozen (default ${DEFAULT-VALUE}).")
    long featureCacheMb;

    @Override
    public Integer call() {
        boolean lora = loraRank != null || loraInit != null;
        if (stage != null && trainParts != null) {
            throw new IllegalArgumentException("give --stage or --train, not both");
        }
        if (threads != null) {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
            }
            Parallel.setThreads(threads);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("--batch-size must be at least 1, got " + batchSize);
        }
        float[] b = parseBetas(betas);
        DType dtype = switch (saveDtype.toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            default -> throw new IllegalArgumentException("--save-dtype must be f32, bf16 or f16, got " + saveDtype);
        };
        int stageNumber = lora ? 0 : stage != null ? stage : 3;
        double peak = lr != null ? lr : TrainingSetup.defaultLr(stageNumber);
        int warm = warmup != null ? warmup : Math.max(0, steps / 20);
        LrSchedule lrSchedule = new LrSchedule(schedule, peak, warm, steps, minLrRatio, lrGamma, lrStepSize);
        Adapter init = loraInit == null ? null : Adapter.read(loraInit);

        PrintStreamProgress progress = new PrintStreamProgress();
        SampleEncoder encoder = SampleEncoder.load(model);
        DataOptions dataOptions = DataOptions.DEFAULT.withSkipBad(skipBad);
        progress.note("checking " + data);
        TrainingData train = TrainingData.open(data, encoder, dataOptions);
        TrainingData text = textData == null ? null : TrainingData.open(textData, encoder, dataOptions);
        TrainingData eval = evalData == null ? null : TrainingData.open(evalData, encoder, dataOptions);
        progress.note("data: " + train.report().summary() + (text == null ? "" : "; text: " + text.report().summary()));
        if (train.report().skipped() > 0) {
            train.report().reasons().forEach(r -> progress.note("skipped " + r));
        }
        int longest = Math.max(train.report().longest(), text == null ? 0 : text.report().longest());

        try (DeepSeekVl vl = DeepSeekVl.load(model)) {
            TrainingSetup.LoraSetup loraSetup = null;
            Set<TrainingSetup.Part> parts = lora ? null : trainParts != null ? TrainingSetup.parts(trainParts) : TrainingSetup.stage(stageNumber);
            int micro = microBatch == null ? 0 : microBatch;
            long needed;
            if (lora) {
                List<String> targets = loraTargets == null ? Lora.ALL_PROJECTIONS : Arrays.asList(loraTargets.split(","));
                int rank = loraRank != null ? loraRank : init.rank();
                double alpha = loraAlpha != null ? loraAlpha : 2.0 * rank;
                loraSetup = TrainingSetup.lora(vl, init, rank, alpha, targets, seed);
                needed = TrainingSetup.estimateBytes(vl, longest, checkpointActivations, micro);
            } else {
                needed = TrainingSetup.estimateBytes(vl, parts, longest, checkpointActivations, micro);   // before train() allocates
            }
            String problem = TrainingSetup.memoryProblem(needed, Runtime.getRuntime().maxMemory(), lora, checkpointActivations);
            if (problem != null) {
                throw new IllegalArgumentException(problem);
            }
            if (!lora) {
                TrainingSetup.train(vl, parts);
            }
            Trainer.Options options = new Trainer.Options(steps, lrSchedule, weightDecay, b[0], b[1], eps, clip, micro,
                    checkpointActivations, dtype, out, metrics, dumpGrads, saveEvery, featureCacheMb << 20);
            Trainer trainer = new Trainer(vl, options, lora ? loraSetup.adapters() : List.of(), lora ? loraSetup.template() : null,
                    hyperParameters(peak, warm));
            progress.note(String.format(Locale.ROOT, "training %,d parameters (%s), peak lr %.3g, %d steps of %d samples%s",
                    trainer.trainableCount(), lora ? "LoRA rank " + loraSetup.template().rank() : trainParts != null ? trainParts : "stage " + stageNumber,
                    peak, steps, batchSize, Streams.verbose() ? String.format(Locale.ROOT, "; estimated heap %.2f GB", needed / 1e9) : ""));
            boolean shuffle = !noShuffle;
            DataLoader loader = text == null ? DataLoader.of(train, batchSize, shuffle, seed)
                    : DataLoader.mixed(train, text, textRatio != null ? textRatio : DataMixer.STAGE2_TEXT_RATIO, batchSize, shuffle, seed);
            if (resume != null) {
                JsonNode cursor = trainer.resume(resume);
                if (cursor != null && !cursor.isNull()) {
                    loader.restore(DataCursor.fromJson(cursor.toString(), resume + "/trainer_state.json"));
                }
                progress.note("resumed from " + resume + " after step " + trainer.stepsTaken());
            }
            TrainProgress bar = new TrainProgress(steps, trainer.stepsTaken(), eval, vl, evalEvery == null ? Math.max(1, steps / 10) : evalEvery,
                    checkpointActivations);
            trainer.run(loader, bar);
            bar.done();
            Streams.out().println(out);
        } finally {
            train.close();
            if (text != null) {
                text.close();
            }
            if (eval != null) {
                eval.close();
            }
        }
        return 0;
    }

    private ObjectNode hyperParameters(double peak, int warm) {
        ObjectNode h = JSON.createObjectNode();
        h.put("model", model.toString());
        h.put("data", data.toString());
        h.put("stage", stage == null ? null : stage);
        h.put("train", trainParts);
        h.put("steps", steps);
        h.put("lr", peak);
        h.put("warmup_steps", warm);
        h.put("schedule", schedule);
        h.put("min_lr_ratio", minLrRatio);
        h.put("weight_decay", weightDecay);
        h.put("betas", betas);
        h.put("eps", eps);
        h.put("clip", clip);
        h.put("batch_size", batchSize);
        h.put("shuffle", !noShuffle);
        h.put("seed", seed);
        h.put("lora_rank", loraRank);
        return h;
    }

    private static float[] parseBetas(String s) {
        String[] parts = s.split(",");
        try {
            if (parts.length == 2) {
                return new float[] {Float.parseFloat(parts[0].trim()), Float.parseFloat(parts[1].trim())};
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("--betas takes two numbers B1,B2, got '" + s + "'");
    }

    /** Notes on their own lines, on stderr unless --quiet. */
    private static final class PrintStreamProgress {
        void note(String line) {
            if (!Streams.quiet()) {
                Streams.err().println(line);
            }
        }
    }

    /** The progress bar of a run (step, loss, lr, tokens/s, time left) and the held-out loss. */
    private static final class TrainProgress implements Trainer.Listener {
        private final int steps;
        private final int first;
        private final TrainingData eval;
        private final DeepSeekVl vl;
        private final int evalEvery;
        private final boolean checkpoint;
        private final ProgressBar bar = new ProgressBar(Streams.err(), false);
        private final long started = System.nanoTime();
        private long tokens;
        private double lastLoss = Double.NaN;

        TrainProgress(int steps, int done, TrainingData eval, DeepSeekVl vl, int evalEvery, boolean checkpoint) {
            this.steps = steps;
            this.first = done;
            this.eval = eval;
            this.vl = vl;
            this.evalEvery = evalEvery;
            this.checkpoint = checkpoint;
        }

        @Override
        public void step(Trainer.Step s) {
            tokens += s.tokens();
            lastLoss = s.loss();
            double seconds = (System.nanoTime() - started) / 1e9;
            double perStep = seconds / (s.step() - first);
            String label = String.format(Locale.ROOT, "step %d/%d loss %.4f lr %.3g %.0f tok/s, %s left", s.step(), s.steps(), s.loss(),
                    s.lr(), tokens / Math.max(seconds, 1e-9), duration(perStep * (steps - s.step())));
            bar.update(label, s.step(), steps);
            if (eval != null && (s.step() % evalEvery == 0 || s.step() == steps)) {
                java.util.List<ai.vl4j.train.data.TrainingSample> samples = new java.util.ArrayList<>();
                for (int i = 0; i < eval.size(); i++) {
                    samples.add(eval.get(i));
                }
                double loss = new ai.vl4j.train.Objective(vl, checkpoint).loss(samples);
                bar.note(String.format(Locale.ROOT, "step %d: held-out loss %.4f (training %.4f)", s.step(), loss, s.loss()));
            }
        }

        @Override
        public void saved(Path folder) {
            bar.note("saved " + folder);
        }

        void done() {
            bar.done();
        }

        private static String duration(double seconds) {
            long s = Math.round(seconds);
            return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60)
                    : s >= 60 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60) : s + "s";
        }
    }
}
