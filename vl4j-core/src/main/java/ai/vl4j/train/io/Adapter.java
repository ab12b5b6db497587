package ai.vl4j.train.io;

import ai.vl4j.InvalidInputException;
import ai.vl4j.Vl4jException;
import ai.vl4j.safetensors.SafetensorsFile;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.safetensors.SafetensorsWriter.Entry;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
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
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A LoRA adapter in PEFT's folder layout: for each target Linear {@code W [out, in]} (a module path such as
 * {@code language_model.model.layers.0.self_attn.q_proj}) two matrices, and {@code y = x Wᵀ + scaling · (x Aᵀ) Bᵀ}
 * with scaling = alpha / rank (alpha / √rank with rsLoRA).
 * <pre>
 *   DIR/adapter_config.json         PEFT's LoraConfig fields: r, lora_alpha, target_modules (names, or one regex),
 *                                   lora_dropout, bias "none", base_model_name_or_path, task_type, ...
 *                                   (json.dumps(indent=2, sort_keys=True) and a newline)
 *   DIR/adapter_model.safetensors   F32, metadata {"format": "pt"}:
 *       base_model.model.&lt;module&gt;.lora_A.weight   A [rank, in]
 *       base_model.model.&lt;module&gt;.lora_B.weight   B [out, rank]
 * </pre>
 * A module matches a target name when its path is the name or ends with "." + name (so {@code up_proj} does not
 * match {@code aligner.high_up_proj}); a regex must match the whole path (PEFT's rules). Plain LoRA only: DoRA,
 * biases, {@code modules_to_save}, per-module ranks or alphas, layer selections and inits that change the base
 * weights (PiSSA, OLoRA, LoftQ, ...) are refused with one line naming the file and the field.
 *
 * @param rank        r
 * @param alpha       lora_alpha
 * @param targets     target_modules
 * @param dropout     lora_dropout (the trainer's business; kept in the config)
 * @param rsLora      use_rslora: scaling alpha / √r instead of alpha / r
 * @param baseModel   base_model_name_or_path (null: none)
 * @param modules     per module path (sorted) its A and B
 * @param otherFields the remaining fields of adapter_config.json, kept as read (PEFT's defaults fill absent ones)
 */
public record Adapter(int rank, double alpha, TargetModules targets, double dropout, boolean rsLora, String baseModel,
                      SortedMap<String, Lora> modules, Map<String, JsonNode> otherFields) {
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    /** PEFT's prefix of every key: the PeftModel's base_model (LoraModel) and its model. */
    public static final String KEY_PREFIX = "base_model.model.";
    private static final String A_SUFFIX = ".lora_A.weight";
    private static final String B_SUFFIX = ".lora_B.weight";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Fields this record holds itself. */
    private static final Set<String> OWN_FIELDS = Set.of("r", "lora_alpha", "target_modules", "lora_dropout", "use_rslora",
            "base_model_name_or_path");

    /**
     * One adapted Linear.
     *
     * @param a A [rank, in], row-major
     * @param b B [out, rank], row-major
     */
    public record Lora(int rank, int in, int out, float[] a, float[] b) {
        public Lora {
            if (rank <= 0 || in <= 0 || out <= 0 || a.length != (long) rank * in || b.length != (long) out * rank) {
                throw new IllegalArgumentException("LoRA pair: A needs " + rank + "×" + in + " values (has " + a.length
                        + "), B " + out + "×" + rank + " (has " + b.length + ")");
            }
        }
    }

    /**
     * target_modules: module names (a path matches one when it equals it or ends with "." + it) or one regex that must
     * match the whole path.
     */
    public record TargetModules(List<String> names, String regex) {
        public TargetModules {
            if ((names == null) == (regex == null)) {
                throw new IllegalArgumentException("target modules: give names or a regex");
            }
            names = names == null ? null : List.copyOf(names);
            if (regex != null) {
                Pattern.compile(regex);
            }
        }

        public static TargetModules names(String... names) {
            return new TargetModules(List.of(names), null);
        }

        public static TargetModules regex(String regex) {
            return new TargetModules(null, regex);
        }

        public boolean matches(String modulePath) {
            if (regex != null) {
                return Pattern.compile(regex).matcher(modulePath).matches();
            }
            for (String n : names) {
                if (modulePath.equals(n) || modulePath.endsWith("." + n)) {
                    return true;
                }
            }
            return false;
        }

        JsonNode toJson() {
            if (regex != null) {
                return JsonNodeFactory.instance.textNode(regex);
            }
            var array = JsonNodeFactory.instance.arrayNode();
            names.forEach(array::add);
            return array;
        }

        @Override
        public String toString() {
            return regex != null ? "regex " + regex : names.toString();
        }
    }

    public Adapter {
        if (rank <= 0) {
            throw new IllegalArgumentException("LoRA rank must be positive, got " + rank);
        }
        modules = Collections.unmodifiableSortedMap(new TreeMap<>(modules));
        for (Map.Entry<String, Lora> m : modules.entrySet()) {
            if (m.getValue().rank() != rank) {
                throw new IllegalArgumentException("module " + m.getKey() + ": rank " + m.getValue().rank() + ", the adapter's is " + rank);
            }
        }
        Map<String, JsonNode> other = new TreeMap<>();
        otherFields.forEach((k, v) -> {
            if (!OWN_FIELDS.contains(k)) {
                other.put(k, v.deepCopy());
            }
        });
        otherFields = Collections.unmodifiableMap(other);
    }

    /** A new adapter with PEFT's defaults for every other config field. */
    public static Adapter of(int rank, double alpha, TargetModules targets, double dropout, String baseModel, Map<String, Lora> modules) {
        return new Adapter(rank, alpha, targets, dropout, false, baseModel, new TreeMap<>(modules), Map.of());
    }

    /** The factor of the low-rank term: alpha / r, or alpha / √r with rsLoRA. */
    public double scaling() {
        return rsLora ? alpha / Math.sqrt(rank) : alpha / rank;
    }

    /** PEFT's key of A for a module path. */
    public static String keyA(String modulePath) {
        return KEY_PREFIX + modulePath + A_SUFFIX;
    }

    /** PEFT's key of B for a module path. */
    public static String keyB(String modulePath) {
        return KEY_PREFIX + modulePath + B_SUFFIX;
    }

    /** The trainable tensors by PEFT key (A and B of every module), sharing this adapter's arrays. */
    public Map<String, float[]> parameters() {
        Map<String, float[]> out = new TreeMap<>();
        modules.forEach((m, l) -> {
            out.put(keyA(m), l.a());
            out.put(keyB(m), l.b());
        });
        return out;
    }

    /** The shape of every trainable tensor by PEFT key. */
    public Map<String, long[]> shapes() {
        Map<String, long[]> out = new TreeMap<>();
        modules.forEach((m, l) -> {
            out.put(keyA(m), new long[] {l.rank(), l.in()});
            out.put(keyB(m), new long[] {l.out(), l.rank()});
        });
        return out;
    }

    /** The same adapter with the given values (by PEFT key, e.g. trained ones); every tensor must be given. */
    public Adapter withParameters(Map<String, float[]> values) {
        SortedMap<String, Lora> updated = new TreeMap<>();
        modules.forEach((m, l) -> {
            float[] a = values.get(keyA(m));
            float[] b = values.get(keyB(m));
            if (a == null || b == null) {
                throw new IllegalArgumentException("no values for " + (a == null ? keyA(m) : keyB(m)));
            }
            updated.put(m, new Lora(rank, l.in(), l.out(), a, b));
        });
        return new Adapter(rank, alpha, targets, dropout, rsLora, baseModel, updated, otherFields);
    }

    /**
     * The module paths of a model that target_modules selects: every Linear weight {@code <path>.weight} (2-D, not an
     * embedding table) whose path matches.
     */
    public static List<String> targetPaths(Weights model, TargetModules targets) {
        List<String> out = new ArrayList<>();
        for (Tensor t : model.tensors().values()) {
            String name = t.name();
            if (!name.endsWith(".weight") || t.rank() != 2) {
                continue;
            }
            String path = name.substring(0, name.length() - ".weight".length());
            if (targets.matches(path)) {
                if (path.endsWith("embed_tokens")) {
                    throw new InvalidInputException("target_modules " + targets + " selects the embedding " + path
                            + "; LoRA on embeddings is not supported");
                }
                out.add(path);
            }
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------- reading

    /** Reads and validates an adapter folder (config fields, keys, A/B pairs and their ranks). */
    public static Adapter read(Path dir) {
        Path configFile = dir.resolve(CONFIG_FILE);
        ObjectNode config = readConfig(configFile);
        int rank = config.has("r") ? intField(config, "r", configFile) : 8;
        if (rank <= 0) {
            throw new InvalidInputException(configFile + ": r must be positive, got " + rank);
        }
        double alpha = config.has("lora_alpha") ? numberField(config, "lora_alpha", configFile) : 8;
        double dropout = config.hasNonNull("lora_dropout") ? numberField(config, "lora_dropout", configFile) : 0;
        boolean rsLora = booleanField(config, "use_rslora", configFile);
        TargetModules targets = targets(config, configFile);
        checkPlainLora(config, configFile);
        JsonNode base = config.get("base_model_name_or_path");
        String baseModel = base == null || base.isNull() ? null : base.asText();
        Map<String, JsonNode> other = new LinkedHashMap<>();
        config.properties().forEach(e -> other.put(e.getKey(), e.getValue()));

        Path weightsFile = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(weightsFile)) {
            throw new InvalidInputException(weightsFile + ": file not found (an adapter folder holds " + CONFIG_FILE + " and " + WEIGHTS_FILE + ")");
        }
        SortedMap<String, Lora> modules = new TreeMap<>();
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = SafetensorsFile.open(weightsFile, arena).tensors();
            Map<String, Tensor[]> pairs = new TreeMap<>();
            for (Tensor t : tensors.values()) {
                String key = t.name();
                boolean isA = key.endsWith(A_SUFFIX);
                if (!key.startsWith(KEY_PREFIX) || !isA && !key.endsWith(B_SUFFIX)
                        || key.length() <= KEY_PREFIX.length() + A_SUFFIX.length()) {
                    throw new InvalidInputException(weightsFile + ": unexpected tensor " + key + " (a LoRA adapter holds "
                            + KEY_PREFIX + "<module>" + A_SUFFIX + " and " + B_SUFFIX + " only)");
                }
                if (!t.dtype().isFloatWeight()) {
                    throw new InvalidInputException(weightsFile + ": tensor " + key + " has dtype " + t.dtype() + ", expected F32, BF16 or F16");
                }
                String module = key.substring(KEY_PREFIX.length(), key.length() - A_SUFFIX.length());
                if (!targets.matches(module)) {
                    throw new InvalidInputException(weightsFile + ": tensor " + key + " adapts " + module
                            + ", which target_modules " + targets + " does not select");
                }
                pairs.computeIfAbsent(module, m -> new Tensor[2])[isA ? 0 : 1] = t;
            }
            if (pairs.isEmpty()) {
                throw new InvalidInputException(weightsFile + ": holds no LoRA tensors");
            }
            for (Map.Entry<String, Tensor[]> p : pairs.entrySet()) {
                modules.put(p.getKey(), pair(weightsFile, p.getKey(), p.getValue(), rank));
            }
        }
        return new Adapter(rank, alpha, targets, dropout, rsLora, baseModel, modules, other);
    }

    /** Reads an adapter folder and checks it against the model it adapts (see {@link #checkAgainst}). */
    public static Adapter read(Path dir, Weights model) {
        Adapter adapter = read(dir);
        adapter.checkAgainst(model, dir.resolve(WEIGHTS_FILE));
        return adapter;
    }

    /**
     * Checks that every adapted module is a Linear of model with A [rank, in] and B [out, rank] for its weight
     * [out, in], and that every Linear target_modules selects in model is adapted.
     */
    public void checkAgainst(Weights model, Path file) {
        for (Map.Entry<String, Lora> m : modules.entrySet()) {
            Tensor w = model.get(m.getKey() + ".weight");
            if (w == null || w.rank() != 2) {
                throw new InvalidInputException(file + ": " + keyA(m.getKey()) + " adapts " + m.getKey() + ", but the model "
                        + model.folder() + " has no Linear weight " + m.getKey() + ".weight");
            }
            Lora l = m.getValue();
            if (l.in() != w.dim(1)) {
                throw new InvalidInputException(file + ": " + keyA(m.getKey()) + " has shape [" + l.rank() + ", " + l.in() + "], the model's "
                        + m.getKey() + ".weight " + Arrays.toString(w.shape()) + " needs [" + rank + ", " + w.dim(1) + "]");
            }
            if (l.out() != w.dim(0)) {
                throw new InvalidInputException(file + ": " + keyB(m.getKey()) + " has shape [" + l.out() + ", " + l.rank() + "], the model's "
                        + m.getKey() + ".weight " + Arrays.toString(w.shape()) + " needs [" + w.dim(0) + ", " + rank + "]");
            }
        }
        for (String path : targetPaths(model, targets)) {
            if (!modules.containsKey(path)) {
                throw new InvalidInputException(file + ": missing " + keyA(path) + " and " + keyB(path)
                        + " (target_modules " + targets + " selects " + path + ")");
            }
        }
    }

    private static Lora pair(Path file, String module, Tensor[] ab, int rank) {
        if (ab[0] == null || ab[1] == null) {
            throw new InvalidInputException(file + ": missing " + (ab[0] == null ? keyA(module) : keyB(module))
                    + " (its " + (ab[0] == null ? "lora_B" : "lora_A") + " is there)");
        }
        Tensor a = ab[0];
        Tensor b = ab[1];
        if (a.rank() != 2 || a.dim(0) != rank) {
            throw new InvalidInputException(file + ": " + a.name() + " has shape " + Arrays.toString(a.shape()) + ", expected [" + rank + ", in] (r = " + rank + ")");
        }
        if (b.rank() != 2 || b.dim(1) != rank) {
            throw new InvalidInputException(file + ": " + b.name() + " has shape " + Arrays.toString(b.shape()) + ", expected [out, " + rank + "] (r = " + rank + ")");
        }
        return new Lora(rank, (int) a.dim(1), (int) b.dim(0), a.toFloatArray(), b.toFloatArray());
    }

    private static ObjectNode readConfig(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new InvalidInputException(file + ": file not found (an adapter folder holds " + CONFIG_FILE + " and " + WEIGHTS_FILE + ")");
        } catch (JacksonException e) {
            throw new InvalidInputException(file + ": not valid JSON (" + e.getOriginalMessage() + ")", e);
        } catch (IOException e) {
            throw new InvalidInputException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new InvalidInputException(file + ": expected a JSON object");
        }
        return (ObjectNode) root;
    }

    private static TargetModules targets(ObjectNode config, Path file) {
        JsonNode t = config.get("target_modules");
        if (t == null || t.isNull()) {
            throw new InvalidInputException(file + ": target_modules is missing (PEFT would guess it per architecture; name the modules)");
        }
        if (t.isTextual()) {
            if (t.asText().equals("all-linear")) {
                throw new InvalidInputException(file + ": target_modules \"all-linear\" is not supported; list the module names");
            }
            try {
                return TargetModules.regex(t.asText());
            } catch (PatternSyntaxException e) {
                throw new InvalidInputException(file + ": target_modules regex " + t.asText() + " is not valid (" + e.getDescription() + ")");
            }
        }
        if (!t.isArray() || t.isEmpty()) {
            throw new InvalidInputException(file + ": target_modules must be a list of module names or a regex string, got " + t);
        }
        List<String> names = new ArrayList<>();
        for (JsonNode n : t) {
            if (!n.isTextual()) {
                throw new InvalidInputException(file + ": target_modules must hold strings, got " + n);
            }
            names.add(n.asText());
        }
        return TargetModules.names(names.toArray(String[]::new));
    }

    /** Refuses the LoRA variants this reader does not implement. */
    private static void checkPlainLora(ObjectNode c, Path file) {
        JsonNode type = c.get("peft_type");
        if (type != null && !type.isNull() && !"LORA".equals(type.asText())) {
            throw new InvalidInputException(file + ": peft_type " + type + " is not supported (only LORA)");
        }
        if (c.hasNonNull("bias") && !"none".equals(c.get("bias").asText())) {
            throw new InvalidInputException(file + ": bias " + c.get("bias") + " is not supported (only \"none\")");
        }
        for (String flag : List.of("use_dora", "lora_bias", "fan_in_fan_out")) {
            if (booleanField(c, flag, file)) {
                throw new InvalidInputException(file + ": " + flag + " true is not supported (plain LoRA only)");
            }
        }
        for (String field : List.of("modules_to_save", "layers_to_transform", "layers_pattern", "rank_pattern", "alpha_pattern",
                "exclude_modules", "trainable_token_indices", "layer_replication")) {
            JsonNode v = c.get(field);
            if (v != null && !v.isNull() && !(v.isContainerNode() && v.isEmpty()) && !(v.isTextual() && v.asText().isEmpty())) {
                throw new InvalidInputException(file + ": " + field + " " + v + " is not supported (plain LoRA on every selected module only)");
            }
        }
        JsonNode init = c.get("init_lora_weights");
        if (init != null && !init.isNull() && !init.isBoolean() && !"gaussian".equals(init.asText())) {
            throw new InvalidInputException(file + ": init_lora_weights " + init + " changes the base weights; not supported");
        }
    }

    private static int intField(ObjectNode c, String key, Path file) {
        JsonNode v = c.get(key);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new InvalidInputException(file + ": " + key + " must be an integer, got " + v);
        }
        return v.intValue();
    }

    private static double numberField(ObjectNode c, String key, Path file) {
        JsonNode v = c.get(key);
        if (!v.isNumber()) {
            throw new InvalidInputException(file + ": " + key + " must be a number, got " + v);
        }
        return v.doubleValue();
    }

    private static boolean booleanField(ObjectNode c, String key, Path file) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return false;
        }
        if (!v.isBoolean()) {
            throw new InvalidInputException(file + ": " + key + " must be true or false, got " + v);
        }
        return v.booleanValue();
    }

    // ---------------------------------------------------------------------------------------------- writing

    /** Writes the adapter folder atomically (see {@link StagedFolder}). */
    public void write(Path dir) {
        try (StagedFolder staged = StagedFolder.open(dir)) {
            writeInto(staged.dir());
            staged.commit(ModelWriter::isModelFile);
        }
    }

    /** Writes adapter_config.json and adapter_model.safetensors into an existing folder. */
    void writeInto(Path dir) {
        List<Entry> entries = new ArrayList<>();
        modules.forEach((m, l) -> {
            entries.add(ModelWriter.f32Entry(keyA(m), new long[] {l.rank(), l.in()}, l.a()));
            entries.add(ModelWriter.f32Entry(keyB(m), new long[] {l.out(), l.rank()}, l.b()));
        });
        try {
            Files.writeString(dir.resolve(CONFIG_FILE), PythonJson.pretty(config()) + "\n", StandardCharsets.UTF_8);
            SafetensorsWriter.writeEntries(dir.resolve(WEIGHTS_FILE), ModelWriter.inFileOrder(entries), ModelWriter.SAFETENSORS_METADATA);
        } catch (IOException e) {
            throw new Vl4jException(dir + ": cannot write the adapter (" + e.getMessage() + ")", e);
        }
    }

    /** adapter_config.json: PEFT's LoraConfig defaults, the fields kept from a read file, then this record's fields. */
    public ObjectNode config() {
        ObjectNode c = JSON.createObjectNode();
        c.putObject("alpha_pattern");
        c.putNull("auto_mapping");
        c.put("bias", "none");
        c.putNull("corda_config");
        c.putNull("eva_config");
        c.putNull("exclude_modules");
        c.put("fan_in_fan_out", false);
        c.put("inference_mode", true);
        c.put("init_lora_weights", true);
        c.putNull("layer_replication");
        c.putNull("layers_pattern");
        c.putNull("layers_to_transform");
        c.putObject("loftq_config");
        c.put("lora_bias", false);
        c.putNull("megatron_config");
        c.put("megatron_core", "megatron.core");
        c.putNull("modules_to_save");
        c.put("peft_type", "LORA");
        c.putObject("rank_pattern");
        c.putNull("revision");
        c.put("task_type", "CAUSAL_LM");
        c.putNull("trainable_token_indices");
        c.put("use_dora", false);
        otherFields.forEach((k, v) -> c.set(k, v.deepCopy()));
        c.put("r", rank);
        if (alpha == Math.rint(alpha) && Math.abs(alpha) < 1e15) {
            c.put("lora_alpha", (long) alpha);   // PEFT types it int
        } else {
            c.put("lora_alpha", alpha);
        }
        c.set("target_modules", targets.toJson());
        c.put("lora_dropout", dropout);
        c.put("use_rslora", rsLora);
        if (baseModel == null) {
            c.putNull("base_model_name_or_path");
        } else {
            c.put("base_model_name_or_path", baseModel);
        }
        return c;
    }
}
