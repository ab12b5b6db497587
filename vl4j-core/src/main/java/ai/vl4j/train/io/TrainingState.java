package ai.vl4j.train.io;

import ai.vl4j.InvalidInputException;
import ai.vl4j.ModelFormatException;
import ai.vl4j.Vl4jException;
import ai.vl4j.safetensors.SafetensorsFile;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.safetensors.SafetensorsWriter.Entry;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Everything a training run needs to continue exactly where it stopped, saved as a {@code checkpoint-K/} folder:
 * <pre>
 *   checkpoint-K/  the model folder (ModelWriter: trained tensors in F32, the master weights themselves, so a
 *                  resumed run starts from the same bits; frozen ones copied as they are), or for LoRA the
 *                  adapter folder (adapter_config.json + adapter_model.safetensors, F32)
 *                + optimizer.safetensors   F32, metadata {"format": "pt"}: per trainable tensor P (checkpoint or
 *                                          PEFT name) AdamW's moments P.exp_avg and P.exp_avg_sq, shaped as P
 *                + trainer_state.json      {"global_step": K, "weights": "model" | "adapter",
 *                                           "trainable": {P: shape, ...}, "hyper_parameters": {...},
 *                                           "data_cursor": ..., "rng_state": ..., "log_history": [...]}
 * </pre>
 * The hyper-parameters, the data cursor and the RNG state are opaque JSON the trainer passes in and gets back;
 * log_history holds the metrics records so far. The folder is written beside its name and moved into place
 * when complete ({@link StagedFolder}); {@link #load(Path, Map)} refuses a checkpoint whose trainable tensors
 * (names or shapes) are not the resuming run's.
 *
 * @param step            optimizer steps taken (K)
 * @param weights         the trained tensors' current values
 * @param moments         AdamW's first and second moments per trainable tensor (same names as weights)
 * @param hyperParameters the run's settings as it was started (opaque)
 * @param dataCursor      where the data loader stands (opaque)
 * @param rngState        the trainer's random state (opaque)
 * @param logHistory      the metrics records of steps 1..K (may be empty)
 */
public record TrainingState(long step, TrainedWeights weights, Map<String, Moments> moments, JsonNode hyperParameters,
                            JsonNode dataCursor, JsonNode rngState, List<JsonNode> logHistory) {
    public static final String STATE_FILE = "trainer_state.json";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    private static final String EXP_AVG = ".exp_avg";
    private static final String EXP_AVG_SQ = ".exp_avg_sq";
    /** Reads what PythonJson writes, NaN and infinities included (a diverged step's loss in log_history). */
    private static final ObjectMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    /** The trained tensors: of a full model (by checkpoint name) or of a LoRA adapter (by PEFT key). */
    public sealed interface TrainedWeights permits FullModel, LoraAdapter {
        /** Every trained tensor's values by name. */
        Map<String, float[]> tensors();
    }

    /**
     * Trained tensors of a model whose other tensors come, unchanged, from baseModel (a model folder).
     *
     * @param baseModel the folder the frozen tensors are copied from (after {@link #load}: the checkpoint itself)
     * @param tensors   trained tensors by checkpoint name, float32 master values
     */
    public record FullModel(Path baseModel, Map<String, float[]> tensors) implements TrainedWeights {
        public FullModel {
            tensors = Collections.unmodifiableMap(new TreeMap<>(tensors));
        }
    }

    /** A LoRA adapter (only A and B train). */
    public record LoraAdapter(Adapter adapter) implements TrainedWeights {
        @Override
        public Map<String, float[]> tensors() {
            return adapter.parameters();
        }
    }

    /** AdamW's state of one tensor: m (exp_avg) and v (exp_avg_sq), each as many values as the tensor. */
    public record Moments(float[] expAvg, float[] expAvgSq) {
        public Moments {
            if (expAvg.length != expAvgSq.length) {
                throw new IllegalArgumentException("exp_avg has " + expAvg.length + " values, exp_avg_sq " + expAvgSq.length);
            }
        }
    }

    public TrainingState {
        if (step < 0) {
            throw new IllegalArgumentException("step must be >= 0, got " + step);
        }
        Map<String, float[]> tensors = weights.tensors();
        if (!tensors.keySet().equals(moments.keySet())) {
            throw new IllegalArgumentException("moments and trained tensors differ: moments only for " + difference(moments.keySet(), tensors.keySet())
                    + "; trained tensors only " + difference(tensors.keySet(), moments.keySet()));
        }
        for (Map.Entry<String, float[]> t : tensors.entrySet()) {
            int n = moments.get(t.getKey()).expAvg().length;
            if (n != t.getValue().length) {
                throw new IllegalArgumentException(t.getKey() + ": " + t.getValue().length + " values but moments of " + n);
            }
        }
        moments = Collections.unmodifiableMap(new TreeMap<>(moments));
        hyperParameters = orNull(hyperParameters);
        dataCursor = orNull(dataCursor);
        rngState = orNull(rngState);
        logHistory = List.copyOf(logHistory);
    }

    /** The folder of the checkpoint after step K of a run writing to out: {@code out/checkpoint-K}. */
    public static Path checkpointDir(Path out, long step) {
        return out.resolve("checkpoint-" + step);
    }

    // ---------------------------------------------------------------------------------------------- saving

    /** Writes the checkpoint folder dir atomically (an existing one is replaced when the new one is complete). */
    public void save(Path dir) {
        try (StagedFolder staged = StagedFolder.open(dir)) {
            Map<String, long[]> shapes = writeWeights(staged.dir());
            writeOptimizer(staged.dir().resolve(OPTIMIZER_FILE), shapes);
            Files.writeString(staged.dir().resolve(STATE_FILE), PythonJson.pretty(stateJson(shapes)) + "\n", StandardCharsets.UTF_8);
            staged.commit(ModelWriter::isModelFile);
        } catch (IOException e) {
            throw new Vl4jException(dir + ": cannot write the checkpoint (" + e.getMessage() + ")", e);
        }
    }

    private Map<String, long[]> writeWeights(Path dir) {
        return switch (weights) {
            case LoraAdapter(Adapter adapter) -> {
                adapter.writeInto(dir);
                yield adapter.shapes();
            }
            case FullModel(Path base, Map<String, float[]> tensors) -> {
                try (Weights source = Weights.open(base)) {
                    List<Entry> entries = ModelWriter.entries(source, tensors, DType.F32);
                    ModelWriter.writeInto(dir, base, entries, ModelWriter.Options.of(DType.F32));
                    Map<String, long[]> shapes = new TreeMap<>();
                    tensors.keySet().forEach(n -> shapes.put(n, source.get(n).shape()));
                    yield shapes;
                }
            }
        };
    }

    private void writeOptimizer(Path file, Map<String, long[]> shapes) throws IOException {
        List<Entry> entries = new ArrayList<>();
        moments.forEach((name, m) -> {
            entries.add(ModelWriter.f32Entry(name + EXP_AVG, shapes.get(name), m.expAvg()));
            entries.add(ModelWriter.f32Entry(name + EXP_AVG_SQ, shapes.get(name), m.expAvgSq()));
        });
        SafetensorsWriter.writeEntries(file, ModelWriter.inFileOrder(entries), ModelWriter.SAFETENSORS_METADATA);
    }

    private ObjectNode stateJson(Map<String, long[]> shapes) {
        ObjectNode o = JSON.createObjectNode();
        o.put("global_step", step);
        o.put("weights", weights instanceof LoraAdapter ? "adapter" : "model");
        ObjectNode trainable = o.putObject("trainable");
        shapes.forEach((name, shape) -> {
            ArrayNode dims = trainable.putArray(name);
            for (long d : shape) {
                dims.add(d);
            }
        });
        o.set("hyper_parameters", hyperParameters);
        o.set("data_cursor", dataCursor);
        o.set("rng_state", rngState);
        ArrayNode log = o.putArray("log_history");
        logHistory.forEach(log::add);
        return o;
    }

    // ---------------------------------------------------------------------------------------------- loading

    /** Reads a checkpoint folder without comparing it to a run. */
    public static TrainingState load(Path dir) {
        return load(dir, null);
    }

    /**
     * Reads a checkpoint folder for a run that trains exactly the tensors of expected (name → shape; null: any),
     * refusing with one line a checkpoint whose trained tensors differ in name or shape.
     */
    public static TrainingState load(Path dir, Map<String, long[]> expected) {
        Path stateFile = dir.resolve(STATE_FILE);
        if (!Files.isDirectory(dir)) {
            throw new InvalidInputException(dir + ": checkpoint folder not found");
        }
        JsonNode state = readState(stateFile);
        long step = state.path("global_step").asLong(-1);
        if (!state.path("global_step").isIntegralNumber() || step < 0) {
            throw new ModelFormatException(stateFile + ": global_step must be a non-negative integer, got " + state.get("global_step"));
        }
        Map<String, long[]> shapes = trainableShapes(state, stateFile);
        if (expected != null) {
            compare(dir, shapes, expected);
        }
        Map<String, Moments> moments = readMoments(dir.resolve(OPTIMIZER_FILE), shapes);
        String kind = state.path("weights").asText("");
        TrainedWeights weights = switch (kind) {
            case "adapter" -> {
                Adapter adapter = Adapter.read(dir);
                Map<String, long[]> adapterShapes = adapter.shapes();
                if (!sameShapes(adapterShapes, shapes)) {
                    throw new ModelFormatException(dir.resolve(Adapter.WEIGHTS_FILE) + ": its tensors "
                            + describe(adapterShapes) + " are not the ones " + STATE_FILE + " lists " + describe(shapes));
                }
                yield new LoraAdapter(adapter);
            }
            case "model" -> new FullModel(dir, readModelTensors(dir, shapes));
            default -> throw new ModelFormatException(stateFile + ": weights must be \"model\" or \"adapter\", got " + state.get("weights"));
        };
        List<JsonNode> log = new ArrayList<>();
        state.path("log_history").forEach(log::add);
        return new TrainingState(step, weights, moments, state.get("hyper_parameters"), state.get("data_cursor"),
                state.get("rng_state"), log);
    }

    private static JsonNode readState(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new InvalidInputException(file.getParent() + ": not a training checkpoint (no " + STATE_FILE + ")");
        } catch (JacksonException e) {
            throw new ModelFormatException(file + ": not valid JSON (" + e.getOriginalMessage() + ")", e);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(file + ": expected a JSON object");
        }
        return root;
    }

    private static Map<String, long[]> trainableShapes(JsonNode state, Path file) {
        JsonNode t = state.get("trainable");
        if (t == null || !t.isObject() || t.isEmpty()) {
            throw new ModelFormatException(file + ": trainable must be an object of tensor name → shape");
        }
        Map<String, long[]> shapes = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : t.properties()) {
            JsonNode dims = e.getValue();
            if (!dims.isArray()) {
                throw new ModelFormatException(file + ": trainable." + e.getKey() + " must be a list of sizes, got " + dims);
            }
            long[] shape = new long[dims.size()];
            for (int i = 0; i < shape.length; i++) {
                if (!dims.get(i).isIntegralNumber() || dims.get(i).asLong() < 0) {
                    throw new ModelFormatException(file + ": trainable." + e.getKey() + " must be a list of sizes, got " + dims);
                }
                shape[i] = dims.get(i).asLong();
            }
            shapes.put(e.getKey(), shape);
        }
        return shapes;
    }

    /** One line when the checkpoint's trained tensors are not the run's. */
    private static void compare(Path dir, Map<String, long[]> saved, Map<String, long[]> expected) {
        List<String> onlySaved = new ArrayList<>(new TreeSet<>(saved.keySet()));
        onlySaved.removeAll(expected.keySet());
        List<String> onlyRun = new ArrayList<>(new TreeSet<>(expected.keySet()));
        onlyRun.removeAll(saved.keySet());
        if (!onlySaved.isEmpty() || !onlyRun.isEmpty()) {
            StringBuilder msg = new StringBuilder(dir + ": this checkpoint trains other tensors than this run:");
            if (!onlySaved.isEmpty()) {
                msg.append(" the checkpoint has ").append(onlySaved.size()).append(" the run does not train (").append(firstFew(onlySaved)).append(")");
            }
            if (!onlyRun.isEmpty()) {
                msg.append(onlySaved.isEmpty() ? "" : ";").append(" the run trains ").append(onlyRun.size())
                        .append(" the checkpoint lacks (").append(firstFew(onlyRun)).append(")");
            }
            throw new InvalidInputException(msg.toString());
        }
        for (Map.Entry<String, long[]> e : new TreeMap<>(expected).entrySet()) {
            if (!Arrays.equals(saved.get(e.getKey()), e.getValue())) {
                throw new InvalidInputException(dir + ": tensor " + e.getKey() + " has shape " + Arrays.toString(saved.get(e.getKey()))
                        + " in the checkpoint but " + Arrays.toString(e.getValue()) + " in this run");
            }
        }
    }

    private static Map<String, Moments> readMoments(Path file, Map<String, long[]> shapes) {
        if (!Files.isRegularFile(file)) {
            throw new ModelFormatException(file + ": file not found (a checkpoint holds AdamW's moments there)");
        }
        Map<String, Moments> moments = new TreeMap<>();
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>(SafetensorsFile.open(file, arena).tensors());
            for (Map.Entry<String, long[]> p : shapes.entrySet()) {
                float[] m = moment(file, tensors.remove(p.getKey() + EXP_AVG), p.getKey() + EXP_AVG, p.getValue());
                float[] v = moment(file, tensors.remove(p.getKey() + EXP_AVG_SQ), p.getKey() + EXP_AVG_SQ, p.getValue());
                moments.put(p.getKey(), new Moments(m, v));
            }
            if (!tensors.isEmpty()) {
                throw new ModelFormatException(file + ": tensor " + tensors.keySet().iterator().next() + " is not a moment of a trained tensor listed in " + STATE_FILE);
            }
        }
        return moments;
    }

    private static float[] moment(Path file, Tensor t, String name, long[] shape) {
        if (t == null) {
            throw new ModelFormatException(file + ": missing tensor " + name);
        }
        if (t.dtype() != DType.F32 || !Arrays.equals(t.shape(), shape)) {
            throw new ModelFormatException(file + ": tensor " + name + " is " + t.dtype() + " " + Arrays.toString(t.shape())
                    + ", expected F32 " + Arrays.toString(shape));
        }
        return t.toFloatArray();
    }

    private static Map<String, float[]> readModelTensors(Path dir, Map<String, long[]> shapes) {
        Map<String, float[]> out = new TreeMap<>();
        try (Weights w = Weights.open(dir)) {
            for (Map.Entry<String, long[]> p : shapes.entrySet()) {
                Tensor t = w.get(p.getKey());
                if (t == null) {
                    throw new ModelFormatException(dir + ": missing tensor " + p.getKey() + " (listed as trained in " + STATE_FILE + ")");
                }
                if (t.dtype() != DType.F32 || !Arrays.equals(t.shape(), p.getValue())) {
                    throw new ModelFormatException(dir + ": trained tensor " + p.getKey() + " is " + t.dtype() + " " + Arrays.toString(t.shape())
                            + ", expected F32 " + Arrays.toString(p.getValue()) + " (the exact master weights)");
                }
                out.put(p.getKey(), t.toFloatArray());
            }
        }
        return out;
    }

    private static boolean sameShapes(Map<String, long[]> a, Map<String, long[]> b) {
        if (!a.keySet().equals(b.keySet())) {
            return false;
        }
        return a.entrySet().stream().allMatch(e -> Arrays.equals(e.getValue(), b.get(e.getKey())));
    }

    private static String describe(Map<String, long[]> shapes) {
        return shapes.size() + " tensors (" + firstFew(new ArrayList<>(shapes.keySet())) + ")";
    }

    private static String firstFew(List<String> names) {
        return names.size() <= 3 ? String.join(", ", names) : String.join(", ", names.subList(0, 3)) + ", ...";
    }

    private static String difference(java.util.Set<String> a, java.util.Set<String> b) {
        List<String> d = new ArrayList<>(new TreeSet<>(a));
        d.removeAll(b);
        return d.isEmpty() ? "none" : firstFew(d);
    }

    private static JsonNode orNull(JsonNode n) {
        return n == null ? NullNode.getInstance() : n.deepCopy();
    }
}
