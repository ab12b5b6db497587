package ai.vl4j.vlm;

import ai.vl4j.Vl4jException;
import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.safetensors.SafetensorsWriter.Entry;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.tensor.QuantizedTensor;
import ai.vl4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes a quantized copy of a model folder ({@code vl4j quantize}). The language model's linear weights
 * (attention and MLP projections, lm_head) become, for a weight {@code W} [rows, cols]:
 * <pre>
 *   W.qweight   I8 [rows, blocks·32]  (q8_0: one signed byte per weight)
 *               U8 [rows, blocks·16]  (q4_0: two values per byte; 16-bit word w of a block holds weights w, w+8,
 *                                      w+16, w+24 in its nibbles, lowest first; see QuantType)
 *   W.scales    F16 [rows, blocks]    (one scale d per block of 32; w ≈ d·q, or d·(q − 8) for q4_0)
 * </pre>
 * with blocks = ⌈cols/32⌉; every other tensor (vision towers, aligner, embeddings, norms) is copied as it is.
 * The metadata says {@code "vl4j.quantization": "q8_0" | "q4_0"} and {@code "vl4j.q4_0_nibbles": "words8"} (files
 * without the latter hold Q4_0 in GGML's order, byte j = weights j and j+16, and are reordered on load). Config and tokenizer files are copied, so
 * the folder loads like the original; {@link ai.vl4j.safetensors.Weights#requireMatrix} reads the pair.
 */
public final class QuantizedCheckpoint {
    private static final Pattern LINEAR = Pattern.compile(
            "language_model\\.(model\\.layers\\.\\d+\\.(self_attn\\.[qkvo]_proj|mlp\\.(gate|up|down)_proj)|lm_head)\\.weight");

    private QuantizedCheckpoint() {
    }

    /** True for the weights this format quantizes. */
    public static boolean quantizes(String name) {
        return LINEAR.matcher(name).matches();
    }

    public static void write(Path source, Path target, QuantType type, SafetensorsWriter.Progress progress) throws IOException {
        if (Files.exists(target.resolve("config.json"))) {
            throw new Vl4jException(target + ": already holds a model; choose an empty folder");
        }
        Files.createDirectories(target);
        try (Stream<Path> files = Files.list(source)) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString();
                if (Files.isRegularFile(f) && name.endsWith(".json") && !name.equals(Weights.INDEX_FILE)) {
                    Files.copy(f, target.resolve(name));
                }
            }
        }
        try (Weights weights = Weights.open(source)) {
            List<Entry> entries = new ArrayList<>();
            QuantizedHolder holder = new QuantizedHolder(type);
            for (Tensor t : weights.tensors().values()) {
                if (!quantizes(t.name())) {
                    entries.add(SafetensorsWriter.of(t));
                    continue;
                }
                int rows = (int) t.dim(0);
                int cols = (int) t.dim(1);
                int blocks = QuantType.blocks(cols);
                entries.add(new Entry(t.name() + ".qweight", type == QuantType.Q8_0 ? DType.I8 : DType.U8,
                        new long[] {rows, (long) blocks * type.blockBytes()},
                        out -> SafetensorsWriter.of("q", DType.U8, new long[] {rows * type.rowBytes(cols)}, holder.quantize(t).quants())
                                .body().writeTo(out)));
                entries.add(new Entry(t.name() + ".scales", DType.F16, new long[] {rows, blocks},
                        out -> {
                            SafetensorsWriter.of("d", DType.F16, new long[] {(long) rows * blocks}, holder.last().scales()).body().writeTo(out);
                            holder.release();
                        }));
            }
            SafetensorsWriter.writeModel(target, entries, Map.of("format", "pt", "vl4j.quantization", type.id(),
                    QuantizedTensor.Q4_ORDER_KEY, QuantizedTensor.Q4_ORDER), progress);
        }
    }

    /** Quantizes one tensor at a time: its .qweight entry fills it, its .scales entry frees it. */
    private static final class QuantizedHolder {
        private final QuantType type;
        private Arena arena;
        private QuantizedTensor last;

        QuantizedHolder(QuantType type) {
            this.type = type;
        }

        QuantizedTensor quantize(Tensor t) {
            release();
            arena = Arena.ofShared();
            last = QuantizedTensor.quantize(t, type, arena);
            return last;
        }

        QuantizedTensor last() {
            return last;
        }

        void release() {
            if (arena != null) {
                arena.close();
                arena = null;
            }
        }
    }
}
