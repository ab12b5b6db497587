package ai.vl4j.cli;

import ai.vl4j.tensor.DType;
import ai.vl4j.vlm.SyntheticModel;
import ai.vl4j.zeroshot.SyntheticZeroShot;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code vl4j synth}: a random-weight checkpoint with the real 1.3B or 7B shapes (or a SigLIP/CLIP one), for benchmarks. */
@Command(name = "synth", description = "Write a random-weight DeepSeek-VL (or SigLIP/CLIP) checkpoint with the real shapes (for benchmarks).")
final class SynthCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "SIZE", description = "1.3b or 7b; or siglip-base, siglip-so400m, clip-b32, clip-l14.")
    String size;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder to write.")
    Path out;

    @Option(names = "--dtype", defaultValue = "bf16", paramLabel = "TYPE", description = "bf16, f16 or f32 (default ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--seed", defaultValue = "1", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
        DType type = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            case "f32" -> DType.F32;
            default -> throw new IllegalArgumentException("--dtype must be bf16, f16 or f32, got " + dtype);
        };
        ProgressBar bar = new ProgressBar(Streams.err(), true);
        if (SyntheticZeroShot.PRESETS.containsKey(size)) {
            SyntheticZeroShot.write(out, size, type, seed, (done, total) -> bar.update("writing weights", done, total));
        } else {
            SyntheticModel.write(out, size, type, seed, (done, total) -> bar.update("writing weights", done, total));
        }
        bar.done();
        Streams.out().println(out);
        return 0;
    }
}
