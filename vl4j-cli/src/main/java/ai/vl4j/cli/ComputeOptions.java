package ai.vl4j.cli;

import ai.vl4j.tensor.Backends;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.Parallel;
import ai.vl4j.tensor.QuantType;
import picocli.CommandLine.Option;

/** --threads, --quant, --kv-cache, --backend and --compute: how the model computes, shared by the commands that run it. */
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

    @Option(names = "--backend", paramLabel = "B", description = "What multiplies matrices of many rows (prefill, vision): auto "
            + "(default: oneDNN where libdnnl2 is installed and its kernels fit the CPU, else Java), java or dnnl.")
    String backend;

    @Option(names = "--compute", paramLabel = "P", description = "Precision of the inputs of the products of many rows (vision "
            + "towers, prefill): f32 (default, exact to the fixtures) or bf16 (bfloat16 inputs, float32 sums, as the official model "
            + "computes: about twice as fast where oneDNN has a bfloat16 dot product, AVX512-BF16 or AMX; elsewhere float32, said once).")
    String computePrecision;

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

    /**
     * Checks the options, sets the thread count, chooses the backend (a oneDNN that cannot load is said in one line
     * and replaced by Java), and returns the quantization (null: as stored).
     */
    QuantType apply() {
        QuantType type = quant == null ? null : QuantType.parse(quant);
        if (threads != null) {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
            }
            Parallel.setThreads(threads);
        }
        selectBackend(backend, computePrecision);
        return type;
    }

    /**
     * Chooses the backend and the precision of its inputs (null: the defaults, from the environment), each problem said
     * in one line on stderr; a value that is not a choice is refused naming its flag, before anything is chosen.
     */
    static void selectBackend(String backend, String computePrecision) {
        Backends.Choice choice = backend == null ? Backends.defaultChoice() : Backends.Choice.parse(backend);
        Backends.Compute precision = computePrecision == null ? Backends.defaultCompute() : Backends.Compute.parse(computePrecision);
        Backends.select(choice, Streams.err()::println);
        Backends.selectCompute(precision, Streams.err()::println);
    }
}
