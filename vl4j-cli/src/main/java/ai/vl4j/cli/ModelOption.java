package ai.vl4j.cli;

import ai.vl4j.hub.HubClient;
import ai.vl4j.hub.ModelResolver;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.vlm.DeepSeekVl;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * --model: a local folder or a Hugging Face id (default deepseek-ai/deepseek-vl-1.3b-chat), downloaded to the
 * HF cache when absent; and loading it with progress on stderr.
 */
final class ModelOption {
    @Option(names = {"-m", "--model"}, paramLabel = "MODEL", defaultValue = ModelResolver.DEFAULT_MODEL,
            description = "Model folder, or Hugging Face id ORG/NAME[@REVISION], downloaded when not cached (default ${DEFAULT-VALUE}).")
    String model;

    /** The model's folder, downloading it first when needed. */
    Path resolve() {
        return resolve(model);
    }

    /** The folder of a --model value (a folder, or a Hugging Face id downloaded when not cached). */
    static Path resolve(String model) {
        DownloadProgress progress = new DownloadProgress(Streams.err(), "pulling " + model);
        Path folder = new ModelResolver(HubClient.fromEnvironment(Streams.env())).resolve(model, progress);
        progress.done();
        return folder;
    }

    /** Resolves and loads the model, showing the load's stages unless --quiet. */
    DeepSeekVl load(QuantType quant, DType kvCache) {
        Path folder = resolve();
        long t0 = System.nanoTime();
        ProgressBar bar = new ProgressBar(Streams.err(), false, 1.0);
        DeepSeekVl vl = DeepSeekVl.load(folder, quant, kvCache, (stage, done, total) -> bar.update(stage, done, total));
        bar.done();
        if (Streams.verbose()) {
            long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            long packed = vl.languageModel().packedBytes();
            Streams.err().printf("loaded %s in %.2f s (Java heap in use: %d MB; weights memory-mapped%s)%n",
                    folder, (System.nanoTime() - t0) / 1e9, heap >> 20,
                    packed > 0 ? ", the language model's re-laid into decode panels: " + (packed >> 20) + " MB off-heap" : "");
        }
        return vl;
    }
}
