package ai.vl4j.cli;

import ai.vl4j.hub.HubClient;
import ai.vl4j.hub.ModelResolver;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** --model: a local folder or a Hugging Face id, downloaded to the HF cache when absent. */
final class ModelOption {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "MODEL",
            description = "Model folder, or Hugging Face id such as deepseek-ai/deepseek-vl-1.3b-chat (downloaded when not cached).")
    String model;

    Path resolve() {
        ProgressBar bar = new ProgressBar(Streams.err());
        Path folder = new ModelResolver(HubClient.fromEnvironment()).resolve(model, bar::update);
        bar.done();
        return folder;
    }
}
