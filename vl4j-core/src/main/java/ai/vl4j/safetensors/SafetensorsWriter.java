package ai.vl4j.safetensors;

import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes tensors to a safetensors file: header padded with spaces to a multiple of 8 bytes, data in the
 * order given. Data may come from tensors in memory or be streamed by a {@link Body} (synthetic checkpoints
 * larger than memory). The file is written beside the target and moved into place, so a failure never leaves
 * a half-written file under the target name.
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Streams a tensor's little-endian bytes. */
    @FunctionalInterface
    public interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    /** One tensor to write: its header entry and where its bytes come from. */
    public record Entry(String name, DType dtype, long[] shape, Body body) {
        public long byteSize() {
            long n = dtype.size;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private SafetensorsWriter() {
    }

    public static void write(Path target, Collection<Tensor> tensors, Map<String, String> metadata) throws IOException {
        List<Entry> entries = new ArrayList<>();
        for (Tensor t : tensors) {
            entries.add(of(t));
        }
        writeEntries(target, entries, metadata);
    }

    /** An entry copying a tensor's bytes. */
    public static Entry of(Tensor t) {
        return new Entry(t.name(), t.dtype(), t.shape(), out -> copy(t.data(), out));
    }

    /** An entry copying raw little-endian bytes of the given dtype and shape. */
    public static Entry of(String name, DType dtype, long[] shape, MemorySegment data) {
        return new Entry(name, dtype, shape, out -> copy(data, out));
    }

    public static void writeEntries(Path target, List<Entry> entries, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        Set<String> names = new HashSet<>();
        long offset = 0;
        for (Entry e : entries) {
            if (!names.add(e.name()) || e.name().equals("__metadata__")) {
                throw new IllegalArgumentException("duplicate or reserved tensor name " + e.name());
            }
            ObjectNode entry = header.putObject(e.name());
            entry.put("dtype", e.dtype().name());
            ArrayNode shape = entry.putArray("shape");
            for (long d : e.shape()) {
                shape.add(d);
            }
            entry.putArray("data_offsets").add(offset).add(offset + e.byteSize());
            offset += e.byteSize();
        }
        byte[] json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] headerBytes = new byte[padded];
        System.arraycopy(json, 0, headerBytes, 0, json.length);
        for (int i = json.length; i < padded; i++) {
            headerBytes[i] = ' ';
        }
        Path parent = target.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = parent.resolve(target.getFileName() + ".partial");
        try {
            try (CountingStream out = new CountingStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20))) {
                out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
                out.write(headerBytes);
                for (Entry e : entries) {
                    long before = out.count;
                    e.body().writeTo(out);
                    if (out.count - before != e.byteSize()) {
                        throw new IOException("tensor " + e.name() + ": wrote " + (out.count - before) + " bytes, expected " + e.byteSize());
                    }
                }
            }
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Bytes written so far and in total. */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total);
    }

    /** Shards are cut at this size, like the real 7B repository (about 5 GB each). */
    public static final long SHARD_BYTES = 5_000_000_000L;

    /**
     * Writes the weights of a model folder: one {@code model.safetensors}, or, past {@link #SHARD_BYTES},
     * {@code model-0000i-of-0000n.safetensors} shards and {@code model.safetensors.index.json}.
     */
    public static void writeModel(Path dir, List<Entry> entries, Map<String, String> metadata, Progress progress) throws IOException {
        long total = entries.stream().mapToLong(Entry::byteSize).sum();
        List<List<Entry>> shards = new ArrayList<>();
        List<Entry> current = new ArrayList<>();
        long currentBytes = 0;
        for (Entry e : entries) {
            if (!current.isEmpty() && currentBytes + e.byteSize() > SHARD_BYTES) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(e);
            currentBytes += e.byteSize();
        }
        shards.add(current);
        long[] done = {0};
        List<Entry> counted = new ArrayList<>();
        for (Entry e : entries) {
            counted.add(new Entry(e.name(), e.dtype(), e.shape(), stream -> {
                e.body().writeTo(stream);
                done[0] += e.byteSize();
                progress.update(done[0], total);
            }));
        }
        if (shards.size() == 1) {
            writeEntries(dir.resolve(Weights.SINGLE_FILE), counted, metadata);
            return;
        }
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode map = index.putObject("weight_map");
        int first = 0;
        for (int s = 0; s < shards.size(); s++) {
            String name = String.format("model-%05d-of-%05d.safetensors", s + 1, shards.size());
            List<Entry> part = counted.subList(first, first + shards.get(s).size());
            first += part.size();
            for (Entry e : part) {
                map.put(e.name(), name);
            }
            writeEntries(dir.resolve(name), part, metadata);
        }
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve(Weights.INDEX_FILE).toFile(), index);
    }

    private static void copy(MemorySegment data, OutputStream out) throws IOException {
        byte[] chunk = new byte[1 << 20];
        long size = data.byteSize();
        for (long pos = 0; pos < size; pos += chunk.length) {
            int len = (int) Math.min(chunk.length, size - pos);
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, pos, chunk, 0, len);
            out.write(chunk, 0, len);
        }
    }

    /** Counts bytes so each entry's body can be checked against its declared size. */
    private static final class CountingStream extends FilterOutputStream {
        long count;

        CountingStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
