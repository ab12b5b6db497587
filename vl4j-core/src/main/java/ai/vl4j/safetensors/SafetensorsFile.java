package ai.vl4j.safetensors;

import ai.vl4j.ModelFormatException;
import ai.vl4j.config.JsonErrors;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One safetensors file, memory-mapped read-only (files larger than 2 GB included):
 * <pre>
 *   u64 LE  N            length of the JSON header
 *   N bytes JSON         {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}}
 *   rest    data         tensors at [8 + N + begin, 8 + N + end)
 * </pre>
 * Every entry is validated when the file opens, so a bad file fails at load with a message naming the
 * file and the tensor, never later inside a kernel.
 */
public final class SafetensorsFile {
    private static final long MAX_HEADER_BYTES = 100L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path path;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
        this.path = path;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps and validates path; the mapping lives as long as arena. */
    public static SafetensorsFile open(Path path, Arena arena) {
        MemorySegment file;
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < 8) {
                throw new ModelFormatException(path + ": truncated safetensors file (" + size
                        + " bytes; it must start with an 8-byte header length)");
            }
            file = asNative(channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena), arena);
        } catch (IOException e) {
            throw new ModelFormatException(path + ": cannot read (" + e.getMessage() + ")", e);
        }
        return parse(path, file);
    }

    /**
     * The mapping seen as a plain native segment (same memory, same lifetime), so the kernels' loads meet one
     * segment class: the JDK's vector loads keep one type profile per call site for all callers, and a mix of
     * mapped and allocated segments (a quantized model reads both) made C2 compile the decode kernels with type
     * checks and deoptimize them. Without native access the mapping is kept as it is.
     */
    private static MemorySegment asNative(MemorySegment mapped, Arena arena) {
        try {
            return MemorySegment.ofAddress(mapped.address()).reinterpret(mapped.byteSize(), arena, null);
        } catch (IllegalCallerException e) {
            return mapped;
        }
    }

    static SafetensorsFile parse(Path path, MemorySegment file) {
        long size = file.byteSize();
        long headerLength = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
            throw new ModelFormatException(path + ": corrupt safetensors header length " + Long.toUnsignedString(headerLength));
        }
        if (headerLength > size - 8) {
            throw new ModelFormatException(path + ": truncated safetensors file: header needs " + headerLength
                    + " bytes but only " + (size - 8) + " follow");
        }
        byte[] headerBytes = file.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = JSON.readTree(new String(headerBytes, StandardCharsets.UTF_8));
        } catch (JacksonException e) {
            throw new ModelFormatException(path + ": corrupt safetensors header (not valid JSON: " + JsonErrors.describe(e) + ")", e);
        }
        if (header == null || !header.isObject()) {
            throw new ModelFormatException(path + ": corrupt safetensors header (not a JSON object)");
        }
        long dataStart = 8 + headerLength;
        long dataSize = size - dataStart;
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : header.properties()) {
            String name = e.getKey();
            JsonNode entry = e.getValue();
            if (name.equals("__metadata__")) {
                entry.properties().forEach(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            tensors.put(name, tensor(path, name, entry, file, dataStart, dataSize));
        }
        return new SafetensorsFile(path, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static Tensor tensor(Path path, String name, JsonNode entry, MemorySegment file, long dataStart, long dataSize) {
        String where = path + ": tensor " + name;
        if (!entry.isObject() || !entry.path("dtype").isTextual() || !entry.path("shape").isArray()
                || !entry.path("data_offsets").isArray() || entry.path("data_offsets").size() != 2) {
            throw new ModelFormatException(where + ": corrupt header entry (needs dtype, shape, data_offsets)");
        }
        DType dtype = DType.fromSafetensorsName(entry.get("dtype").asText());
        if (dtype == null) {
            throw new ModelFormatException(where + ": unsupported dtype " + entry.get("dtype").asText());
        }
        JsonNode shapeNode = entry.get("shape");
        long[] shape = new long[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToLong() || d.asLong() < 0) {
                throw new ModelFormatException(where + ": corrupt shape " + shapeNode);
            }
            shape[i] = d.asLong();
            numel = Math.multiplyExact(numel, shape[i]);
        }
        long begin = entry.get("data_offsets").get(0).asLong(-1);
        long end = entry.get("data_offsets").get(1).asLong(-1);
        if (begin < 0 || end < begin) {
            throw new ModelFormatException(where + ": corrupt data_offsets " + entry.get("data_offsets"));
        }
        if (end > dataSize) {
            throw new ModelFormatException(where + ": data offsets [" + begin + ", " + end + "] out of range: the data section has "
                    + dataSize + " bytes (truncated file?)");
        }
        if (end - begin != numel * dtype.size) {
            throw new ModelFormatException(where + ": dtype/shape mismatch: " + dtype + " " + shapeNode + " needs "
                    + numel * dtype.size + " bytes, data_offsets give " + (end - begin));
        }
        return new Tensor(name, dtype, shape, file.asSlice(dataStart + begin, end - begin));
    }

    public Path path() {
        return path;
    }

    /** Tensors by name, in header order. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }
}
