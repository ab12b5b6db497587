package ai.vl4j.train;

import ai.vl4j.llm.LlamaConfig;
import ai.vl4j.nn.Linear;
import ai.vl4j.nn.LoraAdapter;
import ai.vl4j.nn.Parameter;
import ai.vl4j.train.io.Adapter;
import ai.vl4j.vision.HybridVisionTower;
import ai.vl4j.vision.SigLipConfig;
import ai.vl4j.vision.SigLipVit;
import ai.vl4j.vlm.DeepSeekVl;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * What trains: the paper's three stages as presets, or modules named by hand, or LoRA adapters on the language
 * model; and the memory a run will need, estimated before it starts.
 * <pre>
 *   stage 1   the aligner (vision-language adaptor warm-up; towers and LLM frozen)
 *   stage 2   the aligner and the language model (joint pre-training on multimodal and text-only data)
 *   stage 3   the aligner, the language model and the SigLIP tower (SFT; SAM-B frozen)
 * </pre>
 */
public final class TrainingSetup {
    /** The trainable parts of DeepSeek-VL, by the names --train takes. */
    public enum Part {
        ALIGNER, LLM, SIGLIP;

        /** Whether a registered parameter belongs to this part (SAM-B's are not registered: never trained). */
        boolean owns(Parameter p) {
            return switch (this) {
                case ALIGNER -> p.name().startsWith("aligner.");
                case LLM -> p.name().startsWith("language_model.");
                case SIGLIP -> p.name().startsWith("vision_model.");
            };
        }

        static Part parse(String name) {
            return switch (name.trim().toLowerCase(Locale.ROOT)) {
                case "aligner" -> ALIGNER;
                case "llm", "language_model" -> LLM;
                case "siglip", "vision" -> SIGLIP;
                default -> throw new IllegalArgumentException("--train takes aligner, llm and siglip, got '" + name.trim() + "'");
            };
        }
    }

    private TrainingSetup() {
    }

    /** The parts a stage trains. */
    public static Set<Part> stage(int stage) {
        return switch (stage) {
            case 1 -> EnumSet.of(Part.ALIGNER);
            case 2 -> EnumSet.of(Part.ALIGNER, Part.LLM);
            case 3 -> EnumSet.of(Part.ALIGNER, Part.LLM, Part.SIGLIP);
            default -> throw new IllegalArgumentException("--stage must be 1, 2 or 3, got " + stage);
        };
    }

    /** Parts named as in {@code --train aligner,llm,siglip}. */
    public static Set<Part> parts(String list) {
        Set<Part> parts = EnumSet.noneOf(Part.class);
        for (String name : list.split(",")) {
            parts.add(Part.parse(name));
        }
        return parts;
    }

    /** The default peak learning rate of a stage (and of LoRA: stage 0). vl4j's starting points, not the paper's. */
    public static double defaultLr(int stage) {
        return switch (stage) {
            case 0 -> 2e-4;
            case 1 -> 1e-3;
            case 2 -> 3e-5;
            default -> 1e-5;
        };
    }

    /** Makes exactly the parameters of parts train; every other registered parameter is frozen. */
    public static void train(DeepSeekVl vl, Set<Part> parts) {
        for (Parameter p : vl.parameters()) {
            boolean trains = false;
            for (Part part : parts) {
                trains |= part.owns(p);
            }
            if (trains) {
                p.train();
            } else {
                p.freeze();
            }
        }
    }

    /**
     * Freezes every checkpoint tensor and attaches LoRA adapters to the targeted layers: from init (a PEFT folder,
     * its A and B), or new ones (PEFT's start: A uniform, B zero) of rank and alpha. Returns the adapters and the
     * PEFT config they are saved with.
     */
    public static LoraSetup lora(DeepSeekVl vl, Adapter init, int rank, double alpha, List<String> targets, long seed) {
        for (Parameter p : vl.parameters()) {
            p.freeze();
        }
        List<LoraAdapter> adapters;
        Adapter template;
        if (init != null) {
            adapters = Lora.attach(vl, init);
            template = init;
        } else {
            adapters = Lora.attachNew(vl, targets, rank, (float) alpha, seed);
            TreeMap<String, Adapter.Lora> modules = new TreeMap<>();
            for (Linear l : Lora.targets(vl, targets)) {
                LoraAdapter a = l.adapter();
                modules.put(l.path(), new Adapter.Lora(rank, l.in(), l.out(), a.a().values(), a.b().values()));
            }
            template = Adapter.of(rank, alpha, Adapter.TargetModules.names(targets.toArray(String[]::new)), 0.0,
                    vl.folder().toString(), modules);
        }
        return new LoraSetup(adapters, template);
    }

    /** The adapters LoRA attached and the PEFT config they are written with. */
    public record LoraSetup(List<LoraAdapter> adapters, Adapter template) {
    }

    /**
     * Bytes of heap a run needs, estimated: per trained value its float32 master copy, gradient and two AdamW
     * moments (16 bytes; vectors' float32 copies already exist); one sample's activations through the language
     * model (each layer's buffers, or only each layer's input with checkpointing, plus one layer's buffers and
     * the backward pass's), the vocabulary-wide logits of the loss (chunked), and for a tower that trains its
     * activations.
     */
    public static long estimateBytes(DeepSeekVl vl, int longestSample, boolean checkpoint, int microBatch) {
        return estimateBytes(vl, Parameter::trainable, longestSample, checkpoint, microBatch);
    }

    /**
     * As {@link #estimateBytes(DeepSeekVl, int, boolean, int)} for a run that will train parts, asked before
     * {@link #train(DeepSeekVl, Set)}: that call allocates the float32 copies, which alone may not fit the heap (a full
     * stage 3 of the 1.3B), so a run checks first and refuses in one line instead of dying of OutOfMemoryError.
     */
    public static long estimateBytes(DeepSeekVl vl, Set<Part> parts, int longestSample, boolean checkpoint, int microBatch) {
        return estimateBytes(vl, p -> parts.stream().anyMatch(part -> part.owns(p)), longestSample, checkpoint, microBatch);
    }

    private static long estimateBytes(DeepSeekVl vl, Predicate<Parameter> trains, int longestSample, boolean checkpoint, int microBatch) {
        long bytes = 0;
        for (Parameter p : vl.parameters()) {
            if (trains.test(p)) {
                bytes += 16 * p.numel();
            }
        }
        LlamaConfig cfg = vl.languageModel().config();
        long t = longestSample;
        long h = cfg.hiddenSize();
        long perLayer = 4 * t * (8 * h + 2L * cfg.kvDim() + 3L * cfg.intermediateSize() + cfg.numHeads());
        long layers = cfg.numLayers();
        bytes += checkpoint ? layers * 4 * t * h + perLayer : layers * (perLayer + 4 * t * h);
        bytes += perLayer;                                   // the backward pass's gradient buffers
        bytes += Math.min(t, (1 << 26) / cfg.vocabSize()) * 4L * cfg.vocabSize() * 2;   // logits and their gradient
        bytes += 4 * t * h * 4;                              // embeddings, hidden, their gradients
        boolean towerTrains = false;
        for (Parameter p : vl.visionTower().parameters()) {
            towerTrains |= trains.test(p);
        }
        if (towerTrains) {       // SigLIP's tape: per block its input and training buffers, per token (see SigLipVit.Scratch)
            SigLipConfig sc = (vl.visionTower() instanceof HybridVisionTower hybrid ? hybrid.siglip() : (SigLipVit) vl.visionTower()).config();
            long tokens = sc.numTokens();
            long perBlock = 4 * tokens * (9L * sc.width() + 2L * sc.mlpHidden() + sc.heads());
            bytes += sc.depth() * perBlock + 2 * perBlock;   // the kept blocks, and one block's backward buffers
        }
        return bytes;
    }

    /** One line saying what a run needs against what the JVM has, or null when it fits. */
    public static String memoryProblem(long needed, long available, boolean lora, boolean checkpoint) {
        if (needed <= available) {
            return null;
        }
        String hint = lora ? (checkpoint ? "a shorter context or fewer LoRA targets" : "--checkpoint-activations")
                : checkpoint ? "--lora-rank 8 (trains adapters only) or an earlier --stage" : "--checkpoint-activations or --lora-rank 8";
        return String.format(Locale.ROOT, "this run needs about %.1f GB of Java heap and the JVM has %.1f GB: use %s, or raise -Xmx "
                + "(VL4J_JAVA_OPTS=-Xmx...)", needed / 1e9, available / 1e9, hint);
    }

    /** The parameters of vl that train (for reports). */
    public static List<Parameter> trainable(DeepSeekVl vl) {
        List<Parameter> out = new ArrayList<>();
        for (Parameter p : vl.parameters()) {
            if (p.trainable()) {
                out.add(p);
            }
        }
        return out;
    }
}
