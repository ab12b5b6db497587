package ai.vl4j.cli;

import ai.vl4j.InvalidInputException;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.tensor.Parallel;
import ai.vl4j.zeroshot.ZeroShotClassifier;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** --model (a SigLIP or CLIP checkpoint) and --threads of {@code classify} and {@code embed}, and loading them. */
final class ZeroShotOptions {
    @Option(names = {"-m", "--model"}, paramLabel = "MODEL", required = true,
            description = "SigLIP or CLIP model: a folder in the Hugging Face layout, or an id ORG/NAME[@REVISION] (e.g. openai/clip-vit-base-patch32).")
    String model;

    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: all cores).")
    Integer threads;

    /** Sets the thread count, then resolves and loads the model (family from its config.json). */
    ZeroShotClassifier load() {
        if (threads != null) {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
            }
            Parallel.setThreads(threads);
        }
        Path folder = ModelOption.resolve(model);
        long t0 = System.nanoTime();
        ZeroShotClassifier zs = ZeroShotClassifier.load(folder);
        if (Streams.verbose()) {
            long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            Streams.err().printf("loaded %s (%s) in %.2f s (Java heap in use: %d MB)%n", folder, zs.family(),
                    (System.nanoTime() - t0) / 1e9, heap >> 20);
        }
        return zs;
    }

    /** The --image file decoded, or an error naming the flag and the file. */
    static RgbImage image(String file) {
        try {
            return ImageLoader.load(file);
        } catch (InvalidInputException e) {
            throw new InvalidInputException("--image " + e.getMessage(), e);
        }
    }
}
