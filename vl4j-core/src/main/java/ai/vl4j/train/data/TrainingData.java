package ai.vl4j.train.data;

import ai.vl4j.InvalidInputException;
import ai.vl4j.Vl4jException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The samples of one or more JSONL files, validated up front and read back lazily.
 *
 * <p>{@link #open} reads every line once and checks it completely: the JSON and the format's rules
 * ({@link JsonlParser}), the tokenization and the length against the context ({@link SampleEncoder}), and
 * each image as far as {@link DataOptions#imageCheck} says (by default its header only). So a run fails before
 * its first step, naming the file and line, instead of on line 90,000 hours in. With
 * {@link DataOptions#skipBad} bad lines are left out and counted instead.
 *
 * <p>What stays in memory is an index: per sample its file, byte offset, length, line number and kind (21
 * bytes). {@link #get} reads the line again, parses and tokenizes it (microseconds), and returns a sample
 * whose images are loaded only when asked; a file that changed since it was validated is an error.
 * Samples are addressed by index 0..size-1 (the files' samples in order) or by {@link SampleSource}.
 * {@code get} is thread-safe.
 */
public final class TrainingData implements AutoCloseable {
    private static final int CHUNK = 1 << 16;
    private static final int GROUP_LINES = 1024;        // lines validated together (in parallel)
    private static final long GROUP_BYTES = 16 << 20;   // or fewer, when they are long
    private static final int HAS_IMAGES = 4;   // flag bit beside the kind's ordinal

    private final SampleEncoder encoder;
    private final List<Path> files;
    private final FileChannel[] channels;
    private final long[] fileSizes;
    private final FileTime[] fileTimes;
    private final DataReport report;
    // the index, one entry per kept sample
    private final int[] fileOf;
    private final long[] offsets;
    private final int[] lengths;
    private final int[] lines;
    private final byte[] flags;              // kind ordinal | HAS_IMAGES

    private TrainingData(SampleEncoder encoder, List<Path> files, FileChannel[] channels, long[] fileSizes, FileTime[] fileTimes,
                         Index index, DataReport report) {
        this.encoder = encoder;
        this.files = List.copyOf(files);
        this.channels = channels;
        this.fileSizes = fileSizes;
        this.fileTimes = fileTimes;
        this.report = report;
        this.fileOf = Arrays.copyOf(index.fileOf, index.n);
        this.offsets = Arrays.copyOf(index.offsets, index.n);
        this.lengths = Arrays.copyOf(index.lengths, index.n);
        this.lines = Arrays.copyOf(index.lines, index.n);
        this.flags = Arrays.copyOf(index.flags, index.n);
    }

    /** Opens and validates one JSONL file. */
    public static TrainingData open(Path file, SampleEncoder encoder, DataOptions options) {
        return open(List.of(file), encoder, options);
    }

    /**
     * Opens and validates JSONL files, whose samples follow one another in the given order.
     *
     * @throws BadSampleException    the first bad line (unless options.skipBad)
     * @throws InvalidInputException a file that cannot be read, or no sample at all
     */
    public static TrainingData open(List<Path> files, SampleEncoder encoder, DataOptions options) {
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no data files");
        }
        Index index = new Index();
        Stats stats = new Stats(options.reportedReasons());
        FileChannel[] channels = new FileChannel[files.size()];
        long[] sizes = new long[files.size()];
        FileTime[] times = new FileTime[files.size()];
        try {
            for (int f = 0; f < files.size(); f++) {
                Path file = files.get(f);
                try {
                    channels[f] = FileChannel.open(file, StandardOpenOption.READ);
                    sizes[f] = Files.size(file);
                    times[f] = Files.getLastModifiedTime(file);
                } catch (NoSuchFileException e) {
                    throw new InvalidInputException(file + ": file not found");
                } catch (IOException e) {
                    throw new Vl4jException(file + ": cannot read (" + e.getMessage() + ")", e);
                }
                scan(f, file, encoder, options, index, stats);
            }
            if (index.n == 0) {
                throw new InvalidInputException(String.join(", ", files.stream().map(Path::toString).toList())
                        + ": no samples (" + stats.lines + " non-blank lines, " + stats.skipped + " skipped"
                        + (stats.reasons.isEmpty() ? "" : "; first: " + stats.reasons.getFirst()) + ")");
            }
        } catch (RuntimeException e) {
            closeAll(channels);
            throw e;
        }
        return new TrainingData(encoder, files, channels, sizes, times, index, stats.report(files, index.n));
    }

    /**
     * Reads a file line by line (split at '\n'; a trailing '\r' and a leading byte-order mark dropped) and
     * validates the non-blank lines in groups, in parallel within a group (tokenizing is most of the cost);
     * the results are taken in file order, so the first bad line is the one reported.
     */
    private static void scan(int f, Path file, SampleEncoder encoder, DataOptions options, Index index, Stats stats) {
        Path baseDir = file.getParent() == null ? Path.of("") : file.getParent();
        List<Line> group = new ArrayList<>();
        long groupBytes = 0;
        byte[] chunk = new byte[CHUNK];
        byte[] line = new byte[256];
        int length = 0;           // bytes of the current line so far
        long lineStart = 0;       // its offset in the file
        long position = 0;        // offset of chunk[0]
        int lineNo = 1;
        try (InputStream in = Files.newInputStream(file)) {
            for (int read; (read = in.readNBytes(chunk, 0, CHUNK)) > 0; position += read) {
                int from = 0;
                for (int i = 0; i < read; i++) {
                    if (chunk[i] != '\n') {
                        continue;
                    }
                    line = append(line, length, chunk, from, i - from);
                    length += i - from;
                    Line l = Line.of(lineNo++, lineStart, line, length);
                    if (l != null) {
                        group.add(l);
                        groupBytes += l.bytes.length;
                    }
                    if (group.size() == GROUP_LINES || groupBytes > GROUP_BYTES) {
                        validate(group, f, file, baseDir, encoder, options, index, stats);
                        group.clear();
                        groupBytes = 0;
                    }
                    length = 0;
                    from = i + 1;
                    lineStart = position + from;
                }
                line = append(line, length, chunk, from, read - from);
                length += read - from;
            }
        } catch (IOException e) {
            throw new Vl4jException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        Line last = Line.of(lineNo, lineStart, line, length);
        if (last != null) {
            group.add(last);
        }
        validate(group, f, file, baseDir, encoder, options, index, stats);
    }

    private static byte[] append(byte[] line, int length, byte[] src, int from, int count) {
        if (length + count > line.length) {
            line = Arrays.copyOf(line, Math.max(2 * line.length, length + count));
        }
        System.arraycopy(src, from, line, length, count);
        return line;
    }

    /** A non-blank line: its number, the offset of its first byte, its bytes (no BOM, no line end). */
    private record Line(int number, long offset, byte[] bytes) {
        /** The line, or null if it is blank. */
        static Line of(int number, long offset, byte[] buf, int length) {
            int start = number == 1 && startsWithBom(buf, length) ? 3 : 0;
            int end = length > start && buf[length - 1] == '\r' ? length - 1 : length;
            return isBlank(buf, start, end) ? null : new Line(number, offset + start, Arrays.copyOfRange(buf, start, end));
        }
    }

    /** A validated line: the sample, or why it is bad. */
    private record Checked(Line line, TrainingSample sample, BadSampleException error) {
    }

    /** Validates a group of lines in parallel, then indexes (or skips, or throws for) each in file order. */
    private static void validate(List<Line> group, int f, Path file, Path baseDir, SampleEncoder encoder, DataOptions options,
                                 Index index, Stats stats) {
        List<Checked> results = group.parallelStream().map(l -> check(l, file, baseDir, encoder, options)).toList();
        for (Checked c : results) {
            stats.lines++;
            if (c.error() != null) {
                if (!options.skipBad()) {
                    throw c.error();
                }
                stats.skip(c.error());
                continue;
            }
            TrainingSample s = c.sample();
            index.add(f, c.line().offset(), c.line().bytes().length, c.line().number(),
                    (byte) (s.kind().ordinal() | (s.images().isEmpty() ? 0 : HAS_IMAGES)));
            stats.add(s);
        }
    }

    /** Everything about one line: format, tokenization and length, images as far as the options say. */
    private static Checked check(Line line, Path file, Path baseDir, SampleEncoder encoder, DataOptions options) {
        SampleSource source = new SampleSource(file, line.number());
        try {
            JsonlRecord record = encoder.parser().parse(utf8(line.bytes(), 0, line.bytes().length, source), source, baseDir);
            TrainingSample sample = encoder.encode(record);
            for (int i = 0; i < record.images().size(); i++) {
                try {
                    options.imageCheck().check(record.images().get(i));
                } catch (InvalidInputException e) {
                    throw new BadSampleException(source, "images[" + i + "]", e.getMessage(), e);
                }
            }
            return new Checked(line, sample, null);
        } catch (BadSampleException e) {
            return new Checked(line, null, e);
        }
    }

    private static boolean startsWithBom(byte[] b, int length) {
        return length >= 3 && (b[0] & 0xff) == 0xEF && (b[1] & 0xff) == 0xBB && (b[2] & 0xff) == 0xBF;
    }

    private static boolean isBlank(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] != ' ' && b[i] != '\t' && b[i] != '\r') {
                return false;
            }
        }
        return true;
    }

    private static String utf8(byte[] b, int from, int to, SampleSource source) {
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(b, from, to - from)).toString();
        } catch (CharacterCodingException e) {
            throw new BadSampleException(source, null, "not valid UTF-8 (" + e.getMessage() + ")", e);
        }
    }

    /** Number of samples. */
    public int size() {
        return fileOf.length;
    }

    /** The files, in order. */
    public List<Path> files() {
        return files;
    }

    /** What validation found (counts, tokens, skipped lines). */
    public DataReport report() {
        return report;
    }

    /** The encoder the samples are made with. */
    public SampleEncoder encoder() {
        return encoder;
    }

    /** File and line of sample i, without reading it. */
    public SampleSource source(int i) {
        return new SampleSource(files.get(fileOf[i]), lines[i]);
    }

    /** The kind of sample i, without reading it. */
    public SampleKind kind(int i) {
        return SampleKind.values()[flags[i] & ~HAS_IMAGES];
    }

    /** Whether sample i has images, without reading it. */
    public boolean hasImages(int i) {
        return (flags[i] & HAS_IMAGES) != 0;
    }

    /** The index of the sample at a file and line (the index is sorted by file, then line). */
    public int indexOf(SampleSource source) {
        int f = files.indexOf(source.file());
        int lo = 0;
        int hi = fileOf.length - 1;
        while (f >= 0 && lo <= hi) {
            int mid = (lo + hi) >>> 1;
            int c = fileOf[mid] != f ? Integer.compare(fileOf[mid], f) : Integer.compare(lines[mid], source.line());
            if (c == 0) {
                return mid;
            }
            if (c < 0) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        throw new IllegalArgumentException(source + " is not a sample of this data");
    }

    /** The sample at a file and line. */
    public TrainingSample get(SampleSource source) {
        return get(indexOf(source));
    }

    /** Sample i (0 ≤ i < size), read from its file again: ids and labels, images not loaded. */
    public TrainingSample get(int i) {
        int f = fileOf[i];
        Path file = files.get(f);
        SampleSource source = new SampleSource(file, lines[i]);
        checkUnchanged(f);
        byte[] bytes = new byte[lengths[i]];
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        try {
            while (buf.hasRemaining()) {
                if (channels[f].read(buf, offsets[i] + buf.position()) < 0) {
                    throw new InvalidInputException(source + ": the file is shorter than when it was validated");
                }
            }
        } catch (IOException e) {
            throw new Vl4jException(source + ": cannot read (" + e.getMessage() + ")", e);
        }
        Path baseDir = file.getParent() == null ? Path.of("") : file.getParent();
        return encoder.encode(encoder.parser().parse(utf8(bytes, 0, bytes.length, source), source, baseDir));
    }

    private void checkUnchanged(int f) {
        Path file = files.get(f);
        try {
            if (Files.size(file) != fileSizes[f] || !Files.getLastModifiedTime(file).equals(fileTimes[f])) {
                throw new InvalidInputException(file + ": changed since it was validated; open it again");
            }
        } catch (IOException e) {
            throw new Vl4jException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    @Override
    public void close() {
        closeAll(channels);
    }

    private static void closeAll(FileChannel[] channels) {
        for (FileChannel c : channels) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (IOException ignored) {
                // nothing was written
            }
        }
    }

    /** The growing index of kept samples. */
    private static final class Index {
        int n;
        int[] fileOf = new int[16];
        long[] offsets = new long[16];
        int[] lengths = new int[16];
        int[] lines = new int[16];
        byte[] flags = new byte[16];

        void add(int file, long offset, int length, int line, byte flag) {
            if (n == lines.length) {
                int cap = 2 * n;
                fileOf = Arrays.copyOf(fileOf, cap);
                offsets = Arrays.copyOf(offsets, cap);
                lengths = Arrays.copyOf(lengths, cap);
                lines = Arrays.copyOf(lines, cap);
                flags = Arrays.copyOf(flags, cap);
            }
            fileOf[n] = file;
            offsets[n] = offset;
            lengths[n] = length;
            lines[n] = line;
            flags[n] = flag;
            n++;
        }
    }

    /** Counts for the report. */
    private static final class Stats {
        final int keep;
        final List<String> reasons = new ArrayList<>();
        final int[] kinds = new int[SampleKind.values().length];
        int lines;
        int skipped;
        long images;
        long tokens;
        long supervised;
        int longest;

        Stats(int keep) {
            this.keep = keep;
        }

        void add(TrainingSample s) {
            kinds[s.kind().ordinal()]++;
            images += s.images().size();
            tokens += s.length();
            supervised += s.nSupervised();
            longest = Math.max(longest, s.length());
        }

        void skip(BadSampleException e) {
            skipped++;
            if (reasons.size() < keep) {
                reasons.add(e.getMessage());
            }
        }

        DataReport report(List<Path> files, int samples) {
            return new DataReport(files, lines, samples, kinds[SampleKind.TEXT.ordinal()], kinds[SampleKind.CAPTION.ordinal()],
                    kinds[SampleKind.SFT.ordinal()], images, tokens, supervised, longest, skipped, reasons);
        }
    }
}
