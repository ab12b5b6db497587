package ai.vl4j.cli;

import ai.vl4j.train.Objective;
import ai.vl4j.train.data.DataOptions;
import ai.vl4j.train.data.SampleEncoder;
import ai.vl4j.train.data.TrainingData;
import ai.vl4j.train.data.TrainingSample;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code vl4j loss}: the training loss of a model (and adapter) on a dataset: Σ CE over supervised tokens / N. */
@Command(name = "loss", description = "The training loss of a model on a JSONL dataset.", sortOptions = false)
final class LossCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "DIR", description = "The model folder.")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "Data in the training format (JSONL).")
    Path data;

    @Mixin
    ComputeOptions compute;

    @Option(names = "--json", description = "Print {\"loss\": L, \"n_supervised\": N}.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        compute.apply();
        try (TrainingData td = TrainingData.open(data, SampleEncoder.load(model), DataOptions.DEFAULT);
             DeepSeekVl vl = compute.adapt(DeepSeekVl.load(model))) {
            List<TrainingSample> samples = new ArrayList<>();
            for (int i = 0; i < td.size(); i++) {
                samples.add(td.get(i));
            }
            long n = Objective.supervised(samples);
            double loss = new Objective(vl, false).loss(samples);
            if (json) {
                ObjectNode o = JSON.createObjectNode();
                o.put("loss", loss);
                o.put("n_supervised", n);
                Streams.out().println(JSON.writeValueAsString(o));
            } else {
                Streams.out().printf(Locale.ROOT, "loss %.6f over %d supervised tokens (%d samples)%n", loss, n, samples.size());
            }
        }
        return 0;
    }
}
