package ai.vl4j.cli;

import ai.vl4j.nn.Linear;
import ai.vl4j.nn.LoraAdapter;
import ai.vl4j.nn.Module;
import ai.vl4j.tensor.DType;
import ai.vl4j.train.Lora;
import ai.vl4j.train.io.Adapter;
import ai.vl4j.train.io.ModelWriter;
import ai.vl4j.vlm.DeepSeekVl;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code vl4j merge}: a LoRA adapter folded into its base model: W + scaling·B·A, written as a full model folder. */
@Command(name = "merge", description = "Fold a LoRA adapter into its base model and write a full model folder.", sortOptions = false)
final class MergeCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "DIR", description = "The base model folder.")
    Path model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "The LoRA adapter folder (PEFT layout).")
    Path adapter;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The merged model folder.")
    Path out;

    @Option(names = "--save-dtype", paramLabel = "D", description = "dtype of the merged weights: f32, bf16 or f16 (default: the base weights').")
    String saveDtype;

    @Override
    public Integer call() {
        try (DeepSeekVl vl = DeepSeekVl.load(model)) {
            Lora.attach(vl, Adapter.read(adapter));
            Map<String, float[]> merged = new LinkedHashMap<>();
            DType base = null;
            for (Linear l : Module.find(vl, Linear.class)) {
                LoraAdapter a = l.adapter();
                if (a != null) {
                    merged.put(l.weightParameter().name(), a.merged(l.weightParameter().stored().toFloatArray()));
                    base = l.weightParameter().stored().dtype();
                }
            }
            DType dtype = saveDtype == null ? base : switch (saveDtype.toLowerCase(Locale.ROOT)) {
                case "f32" -> DType.F32;
                case "bf16" -> DType.BF16;
                case "f16" -> DType.F16;
                default -> throw new IllegalArgumentException("--save-dtype must be f32, bf16 or f16, got " + saveDtype);
            };
            ModelWriter.write(model, merged, out, ModelWriter.Options.of(dtype));
            Streams.out().println(out);
        }
        return 0;
    }
}
