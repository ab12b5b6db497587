package ai.vl4j.cli;

import ai.vl4j.tensor.QuantType;
import ai.vl4j.vlm.QuantizedCheckpoint;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code vl4j quantize}: a copy of a model folder with the language model's weights in Q8_0 or Q4_0. */
@Command(name = "quantize", description = "Write a copy of a model with the language model's linear weights quantized (q8_0 or q4_0).")
final class QuantizeCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder to write (new or empty).")
    Path out;

    @Option(names = "--type", defaultValue = "q8_0", paramLabel = "Q", description = "q8_0 or q4_0 (default ${DEFAULT-VALUE}).")
    String type;

    @Override
    public Integer call() throws Exception {
        QuantType quant = QuantType.parse(type);
        ProgressBar bar = new ProgressBar(Streams.err(), true);
        QuantizedCheckpoint.write(model.resolve(), out, quant, (done, total) -> bar.update("writing " + quant.id(), done, total));
        bar.done();
        Streams.out().println(out);
        return 0;
    }
}
