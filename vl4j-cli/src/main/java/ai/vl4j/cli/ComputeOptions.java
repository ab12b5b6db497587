package ai.vl4j.cli;

import ai.vl4j.tensor.Parallel;
import ai.vl4j.tensor.QuantType;
import picocli.CommandLine.Option;

/** --threads and --quant: how the model computes, shared by the commands that run it. */
final class ComputeOptions {
    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: all cores).")
    Integer threads;

    @Option(names = "--quant", paramLabel = "Q", description = "Quantize the language model at load time: q8_0 or q4_0 (default: weights as stored).")
    String quant;

    /** Checks both options, sets the thread count, and returns the quantization (null: as stored). */
    QuantType apply() {
        QuantType type = quant == null ? null : QuantType.parse(quant);
        if (threads != null) {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
            }
            Parallel.setThreads(threads);
        }
        return type;
    }
}
