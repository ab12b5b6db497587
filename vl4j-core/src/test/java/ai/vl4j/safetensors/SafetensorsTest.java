package ai.vl4j.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.ModelFormatException;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Tensor;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path dir;

    static final float[] VALUES = {1f, -2.5f, 0.15625f, 3.0e-5f, -65504f, 1e-8f};

    @Test
    void roundTripsF32F16Bf16() throws IOException {
        Tensor f32 = Tensor.ofFloats("a.f32", VALUES, 2, 3);
        Path file = dir.resolve("t.safetensors");
        SafetensorsWriter.write(file, List.of(f32, f32.convertTo(DType.F16).rename("a.f16"),
                f32.convertTo(DType.BF16).rename("a.bf16")), Map.of("format", "pt"));
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile st = SafetensorsFile.open(file, arena);
            assertEquals("pt", st.metadata().get("format"));
            assertEquals(List.of("a.f32", "a.f16", "a.bf16"), List.copyOf(st.tensors().keySet()));
            assertArrayEquals(VALUES, st.tensors().get("a.f32").toFloatArray());
            float[] f16 = st.tensors().get("a.f16").toFloatArray();
            float[] bf16 = st.tensors().get("a.bf16").toFloatArray();
            for (int i = 0; i < VALUES.length; i++) {
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(VALUES[i])), f16[i], "f16 " + i);
                assertEquals(VALUES[i], bf16[i], Math.abs(VALUES[i]) / 128, "bf16 " + i);
            }
            assertEquals(0.15625f, bf16[2]); // exactly representable
            long headerLength = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertEquals(0, headerLength % 8, "header padded to a multiple of 8 bytes");
        }
    }

    /**
     * Giving back a mapped tensor's pages loses nothing: a later read faults them back from the file (a tensor spanning
     * several pages, released twice, and a tensor not of these files, which is left alone).
     */
    @Test
    void releasedPagesReadBackTheSameValues() throws IOException {
        float[] big = new float[5000];
        for (int i = 0; i < big.length; i++) {
            big[i] = (float) Math.sin(i) * i;
        }
        Path folder = Files.createDirectories(dir.resolve("model"));
        SafetensorsWriter.write(folder.resolve(Weights.SINGLE_FILE),
                List.of(Tensor.ofFloats("small", VALUES, 6), Tensor.ofFloats("big", big, 50, 100)), Map.of("format", "pt"));
        try (Weights w = Weights.open(folder)) {
            Tensor t = w.get("big");
            w.releasePages(t);
            w.releasePages(t);
            assertArrayEquals(big, t.toFloatArray());
            assertArrayEquals(VALUES, w.get("small").toFloatArray());
            Tensor elsewhere = Tensor.ofFloats("big", big, 50, 100);
            w.releasePages(elsewhere);
            assertArrayEquals(big, elsewhere.toFloatArray());
        }
    }

    /** The vectorised F16 widening agrees with Float.float16ToFloat on every one of the 65536 bit patterns. */
    @Test
    void f16WideningIsExactForEveryBitPattern() throws IOException {
        float[] all = new float[65536];
        Path file = dir.resolve("f16.safetensors");
        ByteBuffer data = ByteBuffer.allocate(2 * 65536).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 65536; i++) {
            data.putShort((short) i);
            all[i] = Float.float16ToFloat((short) i);
        }
        writeRaw(file, "{\"h\":{\"dtype\":\"F16\",\"shape\":[65536],\"data_offsets\":[0,131072]}}", data.array());
        try (Arena arena = Arena.ofConfined()) {
            float[] widened = SafetensorsFile.open(file, arena).tensors().get("h").toFloatArray();
            for (int i = 0; i < 65536; i++) {
                if (Float.isNaN(all[i])) {
                    assertTrue(Float.isNaN(widened[i]), "NaN 0x" + Integer.toHexString(i));
                } else {
                    assertEquals(Float.floatToRawIntBits(all[i]), Float.floatToRawIntBits(widened[i]), "bits 0x" + Integer.toHexString(i));
                }
            }
        }
    }

    @Test
    void truncatedFileNamesFileAndTensor() throws IOException {
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter.write(file, List.of(Tensor.ofFloats("w", VALUES, 6)), Map.of());
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length - 5));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file, Arena.ofAuto()));
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("tensor w")
                && e.getMessage().contains("out of range"), e.getMessage());

        Files.write(file, java.util.Arrays.copyOf(bytes, 20));
        e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file, Arena.ofAuto()));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());

        Files.write(file, new byte[3]);
        e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file, Arena.ofAuto()));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void corruptHeaderAndMismatches() throws IOException {
        Path file = dir.resolve("bad.safetensors");
        writeRaw(file, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2, ", new byte[8]);
        assertMessage(file, "corrupt safetensors header");

        writeRaw(file, "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]);
        assertMessage(file, "tensor w: dtype/shape mismatch");

        writeRaw(file, "{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]);
        assertMessage(file, "unsupported dtype Q4");

        writeRaw(file, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", new byte[8]);
        assertMessage(file, "corrupt data_offsets");

        writeRaw(file, "[1,2,3]", new byte[0]);
        assertMessage(file, "not a JSON object");
    }

    @Test
    void shardedIndexAndMissingTensor() throws IOException {
        SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), List.of(Tensor.ofFloats("a", VALUES, 6)), Map.of());
        SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), List.of(Tensor.ofFloats("b", VALUES, 2, 3)), Map.of());
        Files.writeString(dir.resolve(Weights.INDEX_FILE), """
                {"metadata": {"total_size": 48}, "weight_map": {
                  "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}""");
        try (Weights w = Weights.open(dir)) {
            assertArrayEquals(VALUES, w.requireFloats("a", 6));
            assertArrayEquals(VALUES, w.requireFloats("b", 2, 3));
            ModelFormatException missing = assertThrows(ModelFormatException.class, () -> w.require("c", 1));
            assertTrue(missing.getMessage().contains("missing tensor c"), missing.getMessage());
            ModelFormatException shape = assertThrows(ModelFormatException.class, () -> w.require("b", 3, 2));
            assertTrue(shape.getMessage().contains("tensor b has shape [2, 3], expected [3, 2]"), shape.getMessage());
        }
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Weights.open(dir));
        assertTrue(e.getMessage().contains("shard model-00002-of-00002.safetensors is missing"), e.getMessage());
    }

    /** Offsets past 2 GiB: the file is sparse, so this costs no disk. */
    @Test
    void filesLargerThan2GiB() throws IOException {
        long gap = 3L << 30;
        Path file = dir.resolve("big.safetensors");
        String header = "{\"pad\":{\"dtype\":\"U8\",\"shape\":[" + gap + "],\"data_offsets\":[0," + gap + "]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + gap + "," + (gap + 8) + "]}}";
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).array());
            raf.write(json);
            raf.seek(8 + json.length + gap);
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-7f).array());
        }
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = SafetensorsFile.open(file, arena).tensors().get("w");
            assertArrayEquals(new float[] {1.5f, -7f}, w.toFloatArray());
        }
    }

    private static void writeRaw(Path file, String header, byte[] data) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(json.length).put(json).put(data);
        Files.write(file, buf.array());
    }

    private static void assertMessage(Path file, String fragment) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file, Arena.ofAuto()));
        assertTrue(e.getMessage().contains(fragment) && e.getMessage().contains(file.getFileName().toString()), e.getMessage());
    }

    /** A q4_0 pair from a file without the nibble-order key (GGML's order) reads as the same matrix. */
    @Test
    void q4InGgmlOrderIsReorderedOnLoad(@TempDir Path dir) throws IOException {
        int rows = 3, cols = 64;
        float[] v = new float[rows * cols];
        java.util.Random rnd = new java.util.Random(5);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        ai.vl4j.tensor.QuantizedTensor q = ai.vl4j.tensor.QuantizedTensor.quantize(Tensor.ofFloats("w", v, rows, cols),
                ai.vl4j.tensor.QuantType.Q4_0, Arena.ofAuto());
        float[] want = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            q.rowToFloat(r, 0, cols, want, r * cols);
        }
        // the same values in GGML's order: byte j of a block = q[j] | q[j+16] << 4 (q = value/d + 8)
        java.lang.foreign.MemorySegment ggml = Arena.ofAuto().allocate(q.quants().byteSize());
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < 2; b++) {
                float d = Float.float16ToFloat(q.scales().get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 2L * (r * 2 + b)));
                for (int j = 0; j < 16; j++) {
                    int lo = Math.round(want[r * cols + b * 32 + j] / d) + 8;
                    int hi = Math.round(want[r * cols + b * 32 + j + 16] / d) + 8;
                    ggml.set(java.lang.foreign.ValueLayout.JAVA_BYTE, r * 32L + b * 16L + j, (byte) (lo | hi << 4));
                }
            }
        }
        SafetensorsWriter.writeEntries(dir.resolve("model.safetensors"), List.of(
                SafetensorsWriter.of("w.qweight", DType.U8, new long[] {rows, 32}, ggml),
                SafetensorsWriter.of("w.scales", DType.F16, new long[] {rows, 2}, q.scales())), Map.of("vl4j.quantization", "q4_0"));
        try (Weights w = Weights.open(dir)) {
            ai.vl4j.tensor.WeightMatrix loaded = w.requireMatrix("w", rows, cols);
            float[] got = new float[rows * cols];
            for (int r = 0; r < rows; r++) {
                loaded.rowToFloat(r, 0, cols, got, r * cols);
            }
            assertArrayEquals(want, got);
        }
    }

    @Test
    void quantizedScalesMustBeFinite(@TempDir Path dir) throws IOException {
        java.lang.foreign.MemorySegment q = Arena.ofAuto().allocate(2 * 16);
        java.lang.foreign.MemorySegment d = Arena.ofAuto().allocate(2 * 2);
        d.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 2, (short) 0x7e00);   // row 1: NaN
        SafetensorsWriter.writeEntries(dir.resolve("model.safetensors"), List.of(
                SafetensorsWriter.of("w.qweight", DType.U8, new long[] {2, 16}, q),
                SafetensorsWriter.of("w.scales", DType.F16, new long[] {2, 1}, d)), Map.of());
        try (Weights w = Weights.open(dir)) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> w.requireMatrix("w", 2, 32));
            assertTrue(e.getMessage().contains("w.scales holds Inf or NaN at element 1 (row 1, block 0)"), e.getMessage());
        }
    }
}
