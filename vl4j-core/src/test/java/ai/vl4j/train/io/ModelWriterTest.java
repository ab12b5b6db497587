package ai.vl4j.train.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.InvalidInputException;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.llm.KvCache;
import ai.vl4j.llm.LlamaModel;
import ai.vl4j.safetensors.SafetensorsFile;
import ai.vl4j.safetensors.SafetensorsWriter.Entry;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.text.Message;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.vlm.Prompt;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model folder writer on the fixture checkpoints: frozen tensors byte for byte, replaced ones exact (F32) or
 * rounded to nearest even (BF16, F16), transformers' shard layout and index, the folder loading in vl4j with the
 * original's logits, and the atomic move (a failed or killed write leaves no folder under the final name).
 */
class ModelWriterTest {
    @TempDir
    Path tmp;

    static final Path MODEL_13B = Fixtures.TINY_13B_MODEL;   // BF16
    static final Path MODEL_7B = Fixtures.TINY_7B_MODEL;     // F16, hybrid tower
    static final Set<String> NON_WEIGHT_FILES = Set.of("config.json", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "processor_config.json", "preprocessor_config.json");

    @Test
    void unchangedWriteIsTheSourceByteForByte() throws IOException {
        Path out = tmp.resolve("copy");
        ModelWriter.write(MODEL_13B, Map.of(), out, ModelWriter.Options.of(DType.BF16));
        // one shard: model.safetensors, exactly the file safetensors wrote for the fixture
        assertArrayEquals(Files.readAllBytes(MODEL_13B.resolve("model.safetensors")), Files.readAllBytes(out.resolve("model.safetensors")));
        assertFalse(Files.exists(out.resolve(Weights.INDEX_FILE)));
        for (String f : NON_WEIGHT_FILES) {
            assertArrayEquals(Files.readAllBytes(MODEL_13B.resolve(f)), Files.readAllBytes(out.resolve(f)), f);
        }
        assertEquals(listing(MODEL_13B), listing(out));
        assertEquals(List.of(), leftovers(tmp));
    }

    @Test
    void unchangedWriteGivesTheOriginalsLogits() {
        Path single = tmp.resolve("single");
        Path sharded = tmp.resolve("sharded");
        ModelWriter.write(MODEL_13B, Map.of(), single, ModelWriter.Options.of(DType.BF16));
        ModelWriter.write(MODEL_13B, Map.of(), sharded, ModelWriter.Options.of(DType.BF16).withMaxShardBytes(3_000_000));
        assertTrue(Files.exists(sharded.resolve(Weights.INDEX_FILE)));
        // the reference's logits for this prompt (fixture tolerance)
        float[] want = Fixtures.expected(Fixtures.TINY_13B.resolve("expected/dog_a__en/last_logits.safetensors"), "last_logits").toFloatArray();
        Fixtures.assertClose("logits of the written model", lastLogits(single), want);
        Fixtures.assertClose("logits of the sharded written model", lastLogits(sharded), want);
    }

    @Test
    void replacedTensorsAreExactInF32AndRoundedToNearestEvenInBf16AndF16() {
        for (DType dtype : List.of(DType.F32, DType.BF16, DType.F16)) {
            for (Path model : List.of(MODEL_13B, MODEL_7B)) {
                Map<String, float[]> replaced = replacements(model, 3, 7);
                Path out = tmp.resolve(model.getParent().getFileName() + "-" + dtype);
                ModelWriter.write(model, replaced, out, ModelWriter.Options.of(dtype).withMaxShardBytes(4_000_000));
                try (Weights src = Weights.open(model); Weights w = Weights.open(out)) {
                    assertEquals(src.tensors().keySet(), w.tensors().keySet());
                    for (Tensor s : src.tensors().values()) {
                        Tensor t = w.get(s.name());
                        assertArrayEquals(s.shape(), t.shape(), s.name());
                        float[] values = replaced.get(s.name());
                        if (values == null) {
                            assertEquals(s.dtype(), t.dtype(), s.name());
                            assertArrayEquals(bytes(s), bytes(t), "frozen tensor " + s.name() + " is bit-identical");
                            continue;
                        }
                        assertEquals(dtype, t.dtype(), s.name());
                        for (int i = 0; i < values.length; i++) {
                            int want = switch (dtype) {
                                case F32 -> Float.floatToRawIntBits(values[i]);
                                case BF16 -> roundToBf16(values[i]);
                                default -> roundToF16(values[i]);
                            };
                            int got = dtype == DType.F32 ? Float.floatToRawIntBits(t.getFloat(i)) : t.data().get(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i) & 0xffff;
                            if (want != got) {
                                throw new AssertionError(s.name() + "[" + i + "] = " + values[i] + " as " + dtype + ": "
                                        + Integer.toHexString(got) + ", nearest even is " + Integer.toHexString(want));
                            }
                        }
                    }
                }
            }
        }
    }

    /** Ties, both directions, exercised on purpose: the values halfway between two bfloat16 / float16 numbers. */
    @Test
    void roundingOfTiesGoesToEven() {
        float[] ties = {
                Float.intBitsToFloat(0x3f808000),   // between bf16 3f80 and 3f81: to 3f80 (even)
                Float.intBitsToFloat(0x3f818000),   // between 3f81 and 3f82: to 3f82
                Float.intBitsToFloat(0xbf818000),
                1 + 0x1p-11f,                       // between f16 1 and 1 + 2^-10: to 1
                1 + 3 * 0x1p-11f,                   // to 1 + 2^-9
                65520f,                             // f16 overflows to infinity
                Float.intBitsToFloat(0x3f80ffff)};
        assertEquals(0x3f80, roundToBf16(ties[0]));
        assertEquals(0x3f82, roundToBf16(ties[1]));
        assertEquals(0x3c00, roundToF16(ties[3]));
        assertEquals(0x3c02, roundToF16(ties[4]));
        assertEquals(0x7c00, roundToF16(ties[5]));
        for (DType dtype : List.of(DType.BF16, DType.F16)) {
            Path out = tmp.resolve("ties-" + dtype);
            String name = "language_model.model.norm.weight";
            float[] values;
            try (Weights w = Weights.open(MODEL_13B)) {
                values = new float[(int) w.get(name).numel()];
            }
            System.arraycopy(ties, 0, values, 0, ties.length);
            ModelWriter.write(MODEL_13B, Map.of(name, values), out, ModelWriter.Options.of(dtype));
            try (Weights w = Weights.open(out)) {
                Tensor t = w.get(name);
                for (int i = 0; i < ties.length; i++) {
                    int want = dtype == DType.BF16 ? roundToBf16(ties[i]) : roundToF16(ties[i]);
                    assertEquals(want, t.data().get(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i) & 0xffff, dtype + " tie " + i);
                }
            }
        }
    }

    @Test
    void shardsAndIndexAreWhatTransformersWrites() throws IOException {
        long maxShard = 2_000_000;
        Path out = tmp.resolve("sharded");
        ModelWriter.write(MODEL_7B, Map.of(), out, ModelWriter.Options.of(DType.F16).withMaxShardBytes(maxShard));
        JsonNode index = Fixtures.json(out.resolve(Weights.INDEX_FILE));
        // json.dumps(index, indent=2, sort_keys=True) + "\n"
        assertEquals(PythonJson.pretty(index) + "\n", Files.readString(out.resolve(Weights.INDEX_FILE)));
        List<String> fields = new ArrayList<>();
        index.fieldNames().forEachRemaining(fields::add);
        assertEquals(List.of("metadata", "weight_map"), fields);
        JsonNode weightMap = index.get("weight_map");
        List<String> keys = new ArrayList<>();
        weightMap.fieldNames().forEachRemaining(keys::add);
        assertEquals(new ArrayList<>(new TreeMap<>(toMap(weightMap)).keySet()), keys, "weight_map sorted");

        Map<String, List<String>> byShard = new TreeMap<>();
        toMap(weightMap).forEach((tensor, shard) -> byShard.computeIfAbsent(shard, s -> new ArrayList<>()).add(tensor));
        int n = byShard.size();
        assertTrue(n > 3, "a 28 MB model in 2 MB shards: " + n + " shards");
        List<String> expectedNames = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            expectedNames.add(String.format("model-%05d-of-%05d.safetensors", i, n));
        }
        assertEquals(expectedNames, new ArrayList<>(byShard.keySet()));

        long total = 0;
        try (Weights src = Weights.open(MODEL_7B); Arena arena = Arena.ofConfined()) {
            Set<String> seen = new HashSet<>();
            for (Map.Entry<String, List<String>> shard : byShard.entrySet()) {
                SafetensorsFile f = SafetensorsFile.open(out.resolve(shard.getKey()), arena);
                assertEquals(Map.of("format", "pt"), f.metadata());
                assertEquals(new HashSet<>(shard.getValue()), f.tensors().keySet());
                assertEquals(new ArrayList<>(new TreeMap<>(f.tensors()).keySet()), new ArrayList<>(f.tensors().keySet()),
                        "one dtype: tensors in name order, as safetensors lays them out");
                long bytes = 0;
                for (Tensor t : f.tensors().values()) {
                    assertArrayEquals(bytes(src.get(t.name())), bytes(t), t.name());
                    bytes += t.bytes();
                    seen.add(t.name());
                }
                assertTrue(bytes <= maxShard || f.tensors().size() == 1, shard.getKey() + " holds " + bytes + " bytes");
                total += bytes;
            }
            assertEquals(src.tensors().keySet(), seen);
        }
        assertEquals(total, index.get("metadata").get("total_size").asLong());
        // the shards follow the source's order, closing one when the next tensor would overflow it
        try (Weights src = Weights.open(MODEL_7B)) {
            List<Entry> entries = ModelWriter.entries(src, Map.of(), DType.F16);
            List<List<Entry>> plan = ModelWriter.shards(entries, maxShard);
            for (int s = 0; s < plan.size(); s++) {
                List<String> names = plan.get(s).stream().map(Entry::name).sorted().toList();
                assertEquals(byShard.get(expectedNames.get(s)).stream().sorted().toList(), names);
            }
        }
        try (DeepSeekVl vl = DeepSeekVl.load(out)) {
            assertEquals(out, vl.folder());
        }
    }

    @Test
    void aTensorLargerThanTheShardSizeGetsAShardOfItsOwn() {
        List<Entry> entries = List.of(entry("a", 40), entry("b", 40), entry("big", 500), entry("c", 30), entry("d", 60));
        List<List<String>> shards = ModelWriter.shards(entries, 100).stream().map(s -> s.stream().map(Entry::name).toList()).toList();
        // huggingface_hub: the oversized tensor goes alone and the open shard stays open
        assertEquals(List.of(List.of("big"), List.of("a", "b"), List.of("c", "d")), shards);
        assertEquals(1, ModelWriter.shards(List.of(entry("only", 500)), 100).size());
    }

    @Test
    void fileOrderIsSafetensorsOrder() {
        List<Entry> entries = List.of(new Entry("z", DType.F16, new long[] {1}, o -> { }), new Entry("a", DType.I8, new long[] {1}, o -> { }),
                new Entry("m", DType.F32, new long[] {1}, o -> { }), new Entry("b", DType.F32, new long[] {1}, o -> { }),
                new Entry("c", DType.BF16, new long[] {1}, o -> { }), new Entry("y", DType.I64, new long[] {1}, o -> { }));
        // safetensors' Dtype enum: ... I8 < ... F16 < BF16 < ... F32 < F64 < I64; larger first, then by name
        assertEquals(List.of("y", "b", "m", "c", "z", "a"), ModelWriter.inFileOrder(entries).stream().map(Entry::name).toList());
    }

    @Test
    void aFailureInTheMiddleLeavesNoFolderAndKeepsAnOldOne() throws IOException {
        Path out = tmp.resolve("out");
        ModelWriter.Options failing = ModelWriter.Options.of(DType.F32).withMaxShardBytes(3_000_000).withProgress((done, total) -> {
            if (done > total / 2) {
                throw new IllegalStateException("disk full (simulated)");
            }
        });
        Map<String, float[]> replaced = replacements(MODEL_13B, 2, 1);
        assertThrows(IllegalStateException.class, () -> ModelWriter.write(MODEL_13B, replaced, out, failing));
        assertFalse(Files.exists(out), "no folder under the final name");
        assertEquals(List.of(), leftovers(tmp));

        // an existing folder stays as it was when its replacement fails
        ModelWriter.write(MODEL_13B, Map.of(), out, ModelWriter.Options.of(DType.BF16));
        Map<String, String> before = listing(out);
        byte[] weights = Files.readAllBytes(out.resolve("model.safetensors"));
        assertThrows(IllegalStateException.class, () -> ModelWriter.write(MODEL_13B, replaced, out, failing));
        assertEquals(before, listing(out));
        assertArrayEquals(weights, Files.readAllBytes(out.resolve("model.safetensors")));
        assertEquals(List.of(), leftovers(tmp));
    }

    /** The output folder of a run holds its checkpoints and metrics: replacing the model keeps them, drops old shards. */
    @Test
    void replacingAFolderKeepsCheckpointsAndOtherFilesButNotOldShards() throws IOException {
        Path out = tmp.resolve("run");
        ModelWriter.write(MODEL_13B, Map.of(), out, ModelWriter.Options.of(DType.BF16).withMaxShardBytes(3_000_000));
        Path checkpoint = out.resolve("checkpoint-2");
        ModelWriter.write(MODEL_13B, Map.of(), checkpoint, ModelWriter.Options.of(DType.BF16));
        Files.writeString(out.resolve("metrics.jsonl"), "{\"step\": 1}\n");
        ModelWriter.write(MODEL_13B, replacements(MODEL_13B, 2, 5), out, ModelWriter.Options.of(DType.BF16));
        try (Stream<Path> files = Files.list(out)) {
            List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
            assertFalse(names.stream().anyMatch(n -> n.startsWith("model-")), "old shards dropped: " + names);
            assertFalse(names.contains(Weights.INDEX_FILE), "old index dropped");
            assertTrue(names.contains("model.safetensors"));
            assertTrue(names.contains("checkpoint-2"));
        }
        assertEquals("{\"step\": 1}\n", Files.readString(out.resolve("metrics.jsonl")));
        assertArrayEquals(Files.readAllBytes(MODEL_13B.resolve("model.safetensors")), Files.readAllBytes(checkpoint.resolve("model.safetensors")));
        assertEquals(List.of(), leftovers(out));
        assertEquals(List.of(), leftovers(tmp));
    }

    @Test
    void badRequestsAreRefusedBeforeAnythingIsWritten() throws IOException {
        Path out = tmp.resolve("bad");
        ModelWriter.Options opts = ModelWriter.Options.of(DType.BF16);
        var e = assertThrows(InvalidInputException.class, () -> ModelWriter.write(MODEL_13B, Map.of("no.such.weight", new float[4]), out, opts));
        assertTrue(e.getMessage().contains("no tensor no.such.weight"), e.getMessage());
        e = assertThrows(InvalidInputException.class, () -> ModelWriter.write(MODEL_13B,
                Map.of("language_model.model.norm.weight", new float[3]), out, opts));
        assertTrue(e.getMessage().contains("language_model.model.norm.weight") && e.getMessage().contains("3 values"), e.getMessage());
        assertFalse(Files.exists(out));
        e = assertThrows(InvalidInputException.class, () -> ModelWriter.write(MODEL_13B, Map.of(), MODEL_13B, opts));
        assertTrue(e.getMessage().contains("source model folder"), e.getMessage());
        Path home = tmp.resolve("home");
        Files.createDirectories(home.resolve("Documents"));
        e = assertThrows(InvalidInputException.class, () -> ModelWriter.write(MODEL_13B, Map.of(), home, opts));
        assertTrue(e.getMessage().contains("holds the folder Documents"), e.getMessage());
        assertTrue(Files.isDirectory(home.resolve("Documents")));
        assertThrows(IllegalArgumentException.class, () -> ModelWriter.Options.of(DType.I8));
    }

    /** A JVM halted in the middle of a write (kill -9) leaves no final folder; the next write cleans up after it. */
    @Test
    void aKilledWriteLeavesNoFolderUnderTheFinalName() throws Exception {
        Path out = tmp.resolve("killed");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), HaltMidWrite.class.getName(), MODEL_13B.toString(), out.toString())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(HaltMidWrite.EXIT, p.waitFor(), output);
        assertFalse(Files.exists(out), "no folder under the final name after a kill");
        assertEquals(1, leftovers(tmp).size(), "the killed write's partial folder: " + leftovers(tmp));
        ModelWriter.write(MODEL_13B, Map.of(), out, ModelWriter.Options.of(DType.BF16));
        assertEquals(List.of(), leftovers(tmp));
        assertArrayEquals(Files.readAllBytes(MODEL_13B.resolve("model.safetensors")), Files.readAllBytes(out.resolve("model.safetensors")));
    }

    /** Run in a child JVM by the test above: halts (as kill -9 would) once half the tensor data is on disk. */
    public static final class HaltMidWrite {
        static final int EXIT = 37;

        public static void main(String[] args) {
            ModelWriter.write(Path.of(args[0]), Map.of(), Path.of(args[1]), ModelWriter.Options.of(DType.BF16).withMaxShardBytes(3_000_000)
                    .withProgress((done, total) -> {
                        if (done > total / 2) {
                            Runtime.getRuntime().halt(EXIT);
                        }
                    }));
        }
    }

    // ---------------------------------------------------------------------------------------------- helpers

    /** Independent round-to-nearest-even to bfloat16 (through double arithmetic, not the writer's bit trick). */
    static int roundToBf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        int lower = bits >>> 16;
        double lo = Float.intBitsToFloat(lower << 16);
        double hi = Float.intBitsToFloat((lower + 1) << 16);
        double d = Math.abs((double) x - lo);
        double u = Math.abs(hi - (double) x);
        if (d < u || d == u && (lower & 1) == 0) {
            return lower & 0xffff;
        }
        return (lower + 1) & 0xffff;
    }

    /** Independent round-to-nearest-even to float16: the two neighbours by binary search over the bit patterns. */
    static int roundToF16(float x) {
        int sign = Float.floatToRawIntBits(x) < 0 ? 0x8000 : 0;
        double a = Math.abs((double) x);
        int lo = 0;
        int hi = 0x7c00;   // largest pattern whose value is <= a (positive patterns are ordered like their values)
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (f16Value(mid) <= a) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        if (lo == 0x7c00) {
            return sign | 0x7c00;
        }
        double below = a - f16Value(lo);
        double above = f16Value(lo + 1) - a;
        return sign | (below < above || below == above && (lo & 1) == 0 ? lo : lo + 1);
    }

    /** The value of a positive float16 pattern; infinity counts as 65536, the next power of two (IEEE overflow). */
    private static double f16Value(int h) {
        return h == 0x7c00 ? 65536.0 : Float.float16ToFloat((short) h);
    }

    /** A few tensors of the model (each kind of shape) with new float32 values that are not representable in BF16. */
    static Map<String, float[]> replacements(Path model, int count, long seed) {
        Random r = new Random(seed);
        Map<String, float[]> out = new LinkedHashMap<>();
        try (Weights w = Weights.open(model)) {
            List<Tensor> candidates = w.tensors().values().stream().filter(t -> t.numel() < 200_000).toList();
            for (int i = 0; out.size() < count; i++) {
                Tensor t = candidates.get((int) ((i * 7919L + seed) % candidates.size()));
                float[] v = t.toFloatArray();
                for (int k = 0; k < v.length; k++) {
                    v[k] += (float) (r.nextGaussian() * 0.01);
                }
                out.put(t.name(), v);
            }
        }
        return out;
    }

    static byte[] bytes(Tensor t) {
        return t.data().toArray(ValueLayout.JAVA_BYTE);
    }

    static Entry entry(String name, long bytes) {
        return new Entry(name, DType.U8, new long[] {bytes}, o -> { });
    }

    static Map<String, String> toMap(JsonNode object) {
        Map<String, String> m = new LinkedHashMap<>();
        object.properties().forEach(e -> m.put(e.getKey(), e.getValue().asText()));
        return m;
    }

    /** name → size of every entry of a folder (recursively). */
    static Map<String, String> listing(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Iterator<Path> it = walk.iterator(); it.hasNext(); ) {
                Path p = it.next();
                out.put(dir.relativize(p).toString(), Files.isDirectory(p) ? "dir" : String.valueOf(Files.size(p)));
            }
        }
        return out;
    }

    /** Hidden partial/old folders in dir. */
    static List<String> leftovers(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".") && (n.contains(".partial-") || n.contains(".old-"))).toList();
        }
    }

    /** The last row's logits of a prefill over the fixture's dog_a__en prompt. */
    static float[] lastLogits(Path model) {
        try (DeepSeekVl vl = DeepSeekVl.load(model)) {
            Prompt prompt = vl.prompt(List.of(Message.user("<image_placeholder>Describe this image.",
                    ImageLoader.load(Fixtures.TINY_13B.resolve("images/dog_a.png")))));
            int n = prompt.inputIds().length;
            float[] x = vl.inputEmbeddings(prompt, new HashMap<>());
            LlamaModel llm = vl.languageModel();
            return llm.logits(llm.forward(x, n, new KvCache(llm.config(), n)), n - 1);
        }
    }

    @Test
    void replacementsDifferFromTheSource() {
        Map<String, float[]> r = replacements(MODEL_13B, 3, 7);
        assertEquals(3, r.size());
        try (Weights w = Weights.open(MODEL_13B)) {
            r.forEach((name, v) -> assertNotEquals(0, java.util.Arrays.compare(v, w.get(name).toFloatArray()), name));
        }
    }
}
