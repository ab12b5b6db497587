package ai.vl4j.train.io;

import ai.vl4j.InvalidInputException;
import ai.vl4j.Vl4jException;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.safetensors.SafetensorsWriter.Entry;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.tensor.Widen;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a model folder in the official Hugging Face layout: the source model with some tensors replaced (the
 * trained ones), every other tensor copied byte for byte in its own dtype, and every non-weight file of the source
 * (config.json, tokenizer and processor files, ...) copied.
 * <pre>
 *   OUT/config.json, tokenizer.json, processor_config.json, ...        copied from the source folder
 *   OUT/model.safetensors                                              everything fits one shard, or
 *   OUT/model-00001-of-0000N.safetensors ... + model.safetensors.index.json
 *        {"metadata": {"total_size": bytes}, "weight_map": {tensor: shard}}
 * </pre>
 * As transformers' {@code save_pretrained} with huggingface_hub's splitter: tensors are taken in the source's order
 * and a shard is closed when the next tensor would take it past the maximum size (5 GB, decimal, by default); a
 * tensor larger than the maximum gets a shard of its own. Each file is what {@code safetensors} writes: header
 * metadata {@code {"format": "pt"}}, tensors in its order (larger dtype alignment first, then by name), header
 * padded with spaces to 8 bytes; the index is {@code json.dumps(indent=2, sort_keys=True)} and a newline.
 * <p>
 * Replaced tensors are float32 values written as F32, BF16 or F16 (round to nearest, ties to even). Tensors stream to
 * disk in pieces of about a megabyte, so the heap holds only what the caller already holds. The folder is built
 * beside OUT and moved there when complete ({@link StagedFolder}).
 */
public final class ModelWriter {
    /** transformers' default {@code max_shard_size="5GB"} (decimal gigabytes). */
    public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;
    static final Map<String, String> SAFETENSORS_METADATA = Map.of("format", "pt");
    private static final int CHUNK = 1 << 18;   // values converted per write

    /**
     * @param dtype         dtype of the replaced tensors: F32, BF16 or F16
     * @param maxShardBytes shard size limit (bytes of tensor data)
     * @param progress      bytes of tensor data written so far, of the total (called per tensor)
     */
    public record Options(DType dtype, long maxShardBytes, SafetensorsWriter.Progress progress) {
        public Options {
            if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.F16) {
                throw new IllegalArgumentException("save dtype " + dtype + ": use F32, BF16 or F16");
            }
            if (maxShardBytes <= 0) {
                throw new IllegalArgumentException("max shard size must be positive, got " + maxShardBytes);
            }
            if (progress == null) {
                progress = (done, total) -> { };
            }
        }

        /** Replaced tensors in dtype, 5 GB shards, no progress report. */
        public static Options of(DType dtype) {
            return new Options(dtype, DEFAULT_MAX_SHARD_BYTES, null);
        }

        public Options withMaxShardBytes(long bytes) {
            return new Options(dtype, bytes, progress);
        }

        public Options withProgress(SafetensorsWriter.Progress p) {
            return new Options(dtype, maxShardBytes, p);
        }
    }

    private ModelWriter() {
    }

    /**
     * Writes target from the model folder source with replaced tensors (name → float32 values in the source
     * tensor's row-major order), atomically: target appears (or an existing one is replaced) only when complete.
     */
    public static void write(Path source, Map<String, float[]> replaced, Path target, Options options) {
        if (Files.isDirectory(target) && Files.isDirectory(source) && sameFile(source, target)) {
            throw new InvalidInputException(target + ": is the source model folder; write the new model elsewhere");
        }
        try (Weights weights = Weights.open(source)) {
            List<Entry> entries = entries(weights, replaced, options.dtype());
            try (StagedFolder staged = StagedFolder.open(target)) {
                writeInto(staged.dir(), source, entries, options);
                staged.commit(ModelWriter::isModelFile);
            }
        }
    }

    /**
     * The tensors of a model folder with replaced ones converted to dtype: checks every replaced name and size
     * before anything is written.
     */
    static List<Entry> entries(Weights weights, Map<String, float[]> replaced, DType dtype) {
        for (Map.Entry<String, float[]> r : new TreeMap<>(replaced).entrySet()) {
            Tensor t = weights.get(r.getKey());
            if (t == null) {
                throw new InvalidInputException(weights.folder() + ": no tensor " + r.getKey() + " to replace");
            }
            if (!t.dtype().isFloatWeight()) {
                throw new InvalidInputException(weights.folder() + ": tensor " + r.getKey() + " is " + t.dtype()
                        + ", not a floating-point weight; it cannot be replaced by float32 values");
            }
            if (r.getValue().length != t.numel()) {
                throw new InvalidInputException("replacement for " + r.getKey() + ": " + r.getValue().length
                        + " values, the tensor " + Arrays.toString(t.shape()) + " has " + t.numel());
            }
        }
        List<Entry> entries = new ArrayList<>();
        for (Tensor t : weights.tensors().values()) {
            float[] values = replaced.get(t.name());
            entries.add(values == null ? SafetensorsWriter.of(t)
                    : new Entry(t.name(), dtype, t.shape(), out -> writeFloats(values, dtype, out)));
        }
        return entries;
    }

    /** Writes the weight files of entries and copies the non-weight files of source into dir (an empty folder). */
    static void writeInto(Path dir, Path source, List<Entry> entries, Options options) {
        try {
            copyNonWeightFiles(source, dir);
            writeWeights(dir, entries, options);
        } catch (IOException e) {
            throw new Vl4jException(dir + ": cannot write the model (" + e.getMessage() + ")", e);
        }
    }

    /** Splits entries (in order) into shards as huggingface_hub's {@code split_state_dict_into_shards} does. */
    static List<List<Entry>> shards(List<Entry> entries, long maxShardBytes) {
        List<List<Entry>> shards = new ArrayList<>();
        List<Entry> current = new ArrayList<>();
        long currentBytes = 0;
        for (Entry e : entries) {
            long size = e.byteSize();
            if (size > maxShardBytes) {
                shards.add(List.of(e));   // alone; the open shard stays open
                continue;
            }
            if (currentBytes + size > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(e);
            currentBytes += size;
        }
        if (!current.isEmpty() || shards.isEmpty()) {
            shards.add(current);
        }
        return shards;
    }

    private static void writeWeights(Path dir, List<Entry> entries, Options options) throws IOException {
        long total = entries.stream().mapToLong(Entry::byteSize).sum();
        long[] done = {0};
        List<Entry> counted = entries.stream().map(e -> new Entry(e.name(), e.dtype(), e.shape(), out -> {
            e.body().writeTo(out);
            done[0] += e.byteSize();
            options.progress().update(done[0], total);
        })).toList();
        List<List<Entry>> shards = shards(counted, options.maxShardBytes());
        if (shards.size() == 1) {
            SafetensorsWriter.writeEntries(dir.resolve(Weights.SINGLE_FILE), inFileOrder(shards.getFirst()), SAFETENSORS_METADATA);
            return;
        }
        ObjectNode index = new ObjectMapper().createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode weightMap = index.putObject("weight_map");
        for (int s = 0; s < shards.size(); s++) {
            String file = String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", s + 1, shards.size());
            for (Entry e : shards.get(s)) {
                weightMap.put(e.name(), file);
            }
            SafetensorsWriter.writeEntries(dir.resolve(file), inFileOrder(shards.get(s)), SAFETENSORS_METADATA);
        }
        Files.writeString(dir.resolve(Weights.INDEX_FILE), PythonJson.pretty(index) + "\n", StandardCharsets.UTF_8);
    }

    /**
     * The order safetensors' {@code save_file} lays tensors out in: by dtype, larger alignment first (its enum order),
     * then by name (bytes of the UTF-8 names).
     */
    static List<Entry> inFileOrder(List<Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingInt((Entry e) -> -safetensorsRank(e.dtype()))
                .thenComparing(e -> e.name().getBytes(StandardCharsets.UTF_8), Arrays::compareUnsigned));
        return sorted;
    }

    /** Position of dtype in safetensors' Dtype enum (BOOL, U8, I8, F8_*, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64). */
    private static int safetensorsRank(DType dtype) {
        return switch (dtype) {
            case BOOL -> 0;
            case U8 -> 1;
            case I8 -> 2;
            case I16 -> 5;
            case U16 -> 6;
            case F16 -> 7;
            case BF16 -> 8;
            case I32 -> 9;
            case U32 -> 10;
            case F32 -> 11;
            case F64 -> 12;
            case I64 -> 13;
            case U64 -> 14;
        };
    }

    /** An F32 tensor streamed from values. */
    static Entry f32Entry(String name, long[] shape, float[] values) {
        Entry e = new Entry(name, DType.F32, shape, out -> writeFloats(values, DType.F32, out));
        if (e.byteSize() != 4L * values.length) {
            throw new IllegalArgumentException(name + ": " + values.length + " values for shape " + Arrays.toString(shape));
        }
        return e;
    }

    /** Writes values as little-endian F32, BF16 or F16 (round to nearest even), a piece at a time. */
    static void writeFloats(float[] values, DType dtype, OutputStream out) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(CHUNK * dtype.size).order(ByteOrder.LITTLE_ENDIAN);
        for (int start = 0; start < values.length; start += CHUNK) {
            int n = Math.min(CHUNK, values.length - start);
            buf.clear();
            switch (dtype) {
                case F32 -> buf.asFloatBuffer().put(values, start, n);
                case BF16 -> {
                    for (int i = 0; i < n; i++) {
                        buf.putShort(2 * i, Widen.floatToBf16(values[start + i]));
                    }
                }
                case F16 -> {
                    for (int i = 0; i < n; i++) {
                        buf.putShort(2 * i, Float.floatToFloat16(values[start + i]));
                    }
                }
                default -> throw new IllegalArgumentException("cannot write float32 values as " + dtype);
            }
            out.write(buf.array(), 0, n * dtype.size);
        }
    }

    /**
     * True for the files a model folder's weights (or an adapter, or a trainer's state) consist of: they are never
     * copied from a source folder, and those of an earlier version of the target are dropped when it is replaced.
     */
    static boolean isModelFile(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".safetensors") || n.endsWith(".index.json") || n.endsWith(".bin") || n.endsWith(".pt")
                || n.endsWith(".pth") || n.equals("adapter_config.json") || n.equals("trainer_state.json");
    }

    private static void copyNonWeightFiles(Path source, Path dir) throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(source)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (Files.isRegularFile(f) && !name.startsWith(".") && !isModelFile(name)) {
                    Files.copy(f, dir.resolve(name));
                }
            }
        }
    }

    private static boolean sameFile(Path a, Path b) {
        try {
            return Files.isSameFile(a, b);
        } catch (IOException e) {
            return false;
        }
    }
}
