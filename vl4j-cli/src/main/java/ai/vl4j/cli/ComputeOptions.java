package ai.vl4j.cli;

import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Parallel;
import ai.vl4j.tensor.QuantType;
import picocli.CommandLine.Option;

/** --threads, --quant and --kv-cache: how the model computes, shared by the commands that run it. */
final class ComputeOptions {
    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: all cores).")
    Integer threads;

    @Option(names = "--quant", paramLabel = "Q", description = "Quantize the language model at load time: q8_0 or q4_0 (default: weights as stored).")
    String quant;

    @Option(names = "--kv-cache", paramLabel = "P", description = "Precision of the KV cache: f32 (default, exact) or bf16 "
            + "(half its memory and of what each decoded token reads from it; the precision the official model computes in).")
    String kvCache;

    @Option(names = "--adapter", paramLabel = "DIR", description = "A LoRA adapter folder (PEFT layout, e.g. from vl4j train --lora-rank) "
            + "applied to the model.")
    java.nio.file.Path adapter;

    /** The model with the --adapter attached (frozen), if one was given. */
    ai.vl4j.vlm.DeepSeekVl adapt(ai.vl4j.vlm.DeepSeekVl vl) {
        if (adapter != null) {
            try {
                for (ai.vl4j.nn.LoraAdapter a : ai.vl4j.train.Lora.attach(vl, ai.vl4j.train.io.Adapter.read(adapter))) {
                    a.parameters().forEach(ai.vl4j.nn.Parameter::freeze);
                }
            } catch (RuntimeException e) {
                vl.close();
                throw e;
            }
        }
        return vl;
    }

    /** The --kv-cache precision (F32 unless given). */
    DType kvPrecision() {
        if (kvCache == null || kvCache.equalsIgnoreCase("f32")) {
            return DType.F32;
        }
        if (kvCache.equalsIgnoreCase("bf16")) {
            return DType.BF16;
        }
        throw new IllegalArgumentException("--kv-cache must be f32 or bf16, got " + kvCache);
    }

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
