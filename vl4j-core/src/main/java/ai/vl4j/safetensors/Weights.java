package ai.vl4j.safetensors;

import ai.vl4j.LoadProgress;
import ai.vl4j.ModelFormatException;
import ai.vl4j.config.JsonErrors;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.tensor.QuantizedTensor;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.tensor.WeightMatrix;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * All tensors of a model folder: one {@code model.safetensors}, or the shards listed by
 * {@code model.safetensors.index.json}. Files stay memory-mapped until {@link #close()}.
 */
public final class Weights implements AutoCloseable {
    public static final String INDEX_FILE = "model.safetensors.index.json";
    public static final String SINGLE_FILE = "model.safetensors";

    private final Path folder;
    private final Arena arena;
    private final Map<String, Tensor> tensors;
    private final Map<String, Map<String, String>> fileMetadata;   // tensor name → its file's __metadata__

    private Weights(Path folder, Arena arena, Map<String, Tensor> tensors, Map<String, Map<String, String>> fileMetadata) {
        this.folder = folder;
        this.arena = arena;
        this.tensors = tensors;
        this.fileMetadata = fileMetadata;
    }

    /** Opens the weights of a model folder (sharded or not). */
    public static Weights open(Path folder) {
        return open(folder, LoadProgress.NONE);
    }

    /** As above, reporting each file mapped. */
    public static Weights open(Path folder, LoadProgress progress) {
        Arena arena = Arena.ofShared();
        try {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Map<String, Map<String, String>> metadata = new HashMap<>();
            Path index = folder.resolve(INDEX_FILE);
            if (Files.isRegularFile(index)) {
                readSharded(folder, index, arena, tensors, metadata, progress);
            } else {
                List<Path> files = singleFiles(folder);
                int mapped = 0;
                for (Path file : files) {
                    SafetensorsFile f = SafetensorsFile.open(file, arena);
                    progress.update("mapping weights", ++mapped, files.size());
                    for (Tensor t : f.tensors().values()) {
                        if (tensors.put(t.name(), t) != null) {
                            throw new ModelFormatException(file + ": tensor " + t.name() + " appears in more than one file");
                        }
                        metadata.put(t.name(), f.metadata());
                    }
                }
            }
            return new Weights(folder, arena, Collections.unmodifiableMap(tensors), metadata);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static List<Path> singleFiles(Path folder) {
        Path single = folder.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return List.of(single);
        }
        try (Stream<Path> files = Files.list(folder)) {
            List<Path> found = new ArrayList<>(files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList());
            if (found.isEmpty()) {
                throw new ModelFormatException(folder + ": no " + SINGLE_FILE + " or " + INDEX_FILE + " in the model folder");
            }
            return found;
        } catch (IOException e) {
            throw new ModelFormatException(folder + ": cannot list the model folder (" + e.getMessage() + ")", e);
        }
    }

    private static void readSharded(Path folder, Path index, Arena arena, Map<String, Tensor> tensors,
                                    Map<String, Map<String, String>> metadata, LoadProgress progress) {
        JsonNode weightMap;
        try {
            weightMap = new ObjectMapper().readTree(index.toFile()).path("weight_map");
        } catch (JacksonException e) {
            throw new ModelFormatException(index + ": not valid JSON: " + JsonErrors.describe(e), e);
        } catch (IOException e) {
            throw new ModelFormatException(index + ": cannot read (" + e.getMessage() + ")", e);
        }
        if (!weightMap.isObject()) {
            throw new ModelFormatException(index + ": missing key weight_map");
        }
        Map<String, List<String>> namesByShard = new TreeMap<>();
        weightMap.properties().forEach(e ->
                namesByShard.computeIfAbsent(e.getValue().asText(), k -> new ArrayList<>()).add(e.getKey()));
        int mapped = 0;
        for (Map.Entry<String, List<String>> shard : namesByShard.entrySet()) {
            Path file = folder.resolve(shard.getKey());
            if (!Files.isRegularFile(file)) {
                throw new ModelFormatException(index + ": shard " + shard.getKey() + " is missing from " + folder);
            }
            SafetensorsFile f = SafetensorsFile.open(file, arena);
            for (String name : shard.getValue()) {
                Tensor t = f.tensors().get(name);
                if (t == null) {
                    throw new ModelFormatException(file + ": tensor " + name + " listed in " + INDEX_FILE + " is not in this shard");
                }
                tensors.put(name, t);
                metadata.put(name, f.metadata());
            }
            progress.update("mapping weights", ++mapped, namesByShard.size());
        }
    }

    public Path folder() {
        return folder;
    }

    /** Every tensor by name. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** The tensor, or null when absent. */
    public Tensor get(String name) {
        return tensors.get(name);
    }

    /** The tensor with the given shape; a clear error when it is missing or shaped otherwise. */
    public Tensor require(String name, long... shape) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new ModelFormatException(folder + ": missing tensor " + name);
        }
        if (!t.dtype().isFloatWeight()) {
            throw new ModelFormatException(folder + ": tensor " + name + " has dtype " + t.dtype() + ", expected F32, F16 or BF16");
        }
        try {
            return t.expectShape(shape);
        } catch (ModelFormatException e) {
            throw new ModelFormatException(folder + ": " + e.getMessage());
        }
    }

    /**
     * A weight matrix [rows, cols]: the dense tensor {@code name}, or, in a quantized folder, the pair
     * {@code name.qweight} (I8: Q8_0, [rows, blocks·32]; U8: Q4_0, [rows, blocks·16]) + {@code name.scales}
     * (F16, [rows, blocks]). Q4_0 data without {@link QuantizedTensor#Q4_ORDER_KEY} in its file's metadata is in
     * GGML's nibble order (vl4j before that key) and is reordered into memory.
     */
    public WeightMatrix requireMatrix(String name, int rows, int cols) {
        if (tensors.containsKey(name) || !tensors.containsKey(name + ".qweight")) {
            return require(name, rows, cols);
        }
        Tensor q = tensors.get(name + ".qweight");
        Tensor d = tensors.get(name + ".scales");
        QuantType type = switch (q.dtype()) {
            case I8 -> QuantType.Q8_0;
            case U8 -> QuantType.Q4_0;
            default -> throw new ModelFormatException(folder + ": tensor " + q.name() + " has dtype " + q.dtype()
                    + ", expected I8 (q8_0) or U8 (q4_0)");
        };
        if (d == null || d.dtype() != DType.F16) {
            throw new ModelFormatException(folder + ": missing tensor " + name + ".scales (F16) beside " + q.name());
        }
        int blocks = QuantType.blocks(cols);
        try {
            q.expectShape(rows, (long) blocks * type.blockBytes());
            d.expectShape(rows, blocks);
        } catch (ModelFormatException e) {
            throw new ModelFormatException(folder + ": " + e.getMessage() + " (" + type.id() + " weight " + name + " [" + rows + ", " + cols + "])");
        }
        long bad = QuantizedTensor.firstNonFiniteScale(d.data());
        if (bad >= 0) {
            throw new ModelFormatException(folder + ": tensor " + d.name() + " holds Inf or NaN at element " + bad
                    + " (row " + bad / blocks + ", block " + bad % blocks + ")");
        }
        if (type == QuantType.Q4_0 && !QuantizedTensor.Q4_ORDER.equals(fileMetadata.getOrDefault(q.name(), Map.of()).get(QuantizedTensor.Q4_ORDER_KEY))) {
            // written by an earlier vl4j in GGML's nibble order: reordered into memory once
            return QuantizedTensor.fromGgmlQ4(name, rows, cols, q.data(), d.data(), arena);
        }
        return new QuantizedTensor(name, type, rows, cols, resident(q), resident(d));
    }

    /**
     * A mapped tensor's bytes copied into anonymous memory of this folder's lifetime, the mapped pages given back:
     * decode streams a quantized weight once per token, and on the hosts measured it read page-cache pages markedly
     * slower than anonymous ones (README, Speed). Tensors not mapped from these files are returned as they are.
     */
    private MemorySegment resident(Tensor t) {
        if (tensors.get(t.name()) != t) {
            return t.data();
        }
        MemorySegment copy = arena.allocate(t.data().byteSize(), 64);
        MemorySegment from = t.data();
        long chunk = 1L << 22;
        ai.vl4j.tensor.Parallel.forRange(0, (int) ((from.byteSize() + chunk - 1) / chunk), 1,
                (lo, hi) -> MemorySegment.copy(from, lo * chunk, copy, lo * chunk, Math.min(from.byteSize(), hi * chunk) - lo * chunk));
        MappedPages.release(from);
        return copy;
    }

    /** A small tensor (norm weights, biases, embeddings tables of vision towers) copied to a float array. */
    public float[] requireFloats(String name, long... shape) {
        return require(name, shape).toFloatArray();
    }

    /**
     * Gives back the resident pages of a tensor of these files that the caller has copied into another layout and
     * will not read in the hot path again (they stay in the page cache; a later read maps them back). Tensors not
     * mapped from these files are left alone.
     */
    public void releasePages(Tensor t) {
        if (tensors.get(t.name()) == t) {
            MappedPages.release(t.data());
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
