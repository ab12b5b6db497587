package ai.vl4j.cli;

import ai.vl4j.bench.PipelineBenchmark.Stats;
import ai.vl4j.bench.TrainingBenchmark;
import ai.vl4j.tensor.Backends;
import ai.vl4j.tensor.Parallel;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import jdk.incubator.vector.FloatVector;

/**
 * {@code vl4j bench --train}: training steps timed phase by phase ({@link TrainingBenchmark}), with their memory;
 * a table, or with --json one object whose {@code configs} a script reads (and {@code scripts/train_torch_bench.py
 * --like FILE} copies the shapes from).
 */
final class TrainBench {
    private TrainBench() {
    }

    static int run(String modelName, Path folder, TrainingBenchmark.Options options, boolean json) throws Exception {
        PrintStream out = Streams.out();
        List<TrainingBenchmark.Result> results = TrainingBenchmark.run(folder, options, msg -> {
            if (!Streams.quiet()) {
                Streams.err().println("bench: " + msg);
            }
        });
        if (json) {
            Map<String, Object> obj = new LinkedHashMap<>();
            obj.put("mode", "train");
            obj.put("model", modelName);
            obj.put("image", options.image().toString());
            obj.put("threads", Parallel.threads());
            obj.put("backend", Backends.active().name());
            obj.put("cpus", Runtime.getRuntime().availableProcessors());
            obj.put("vector_bits", FloatVector.SPECIES_PREFERRED.vectorBitSize());
            obj.put("runs", options.runs());
            List<Object> configs = new ArrayList<>();
            for (TrainingBenchmark.Result r : results) {
                configs.add(toJson(r));
            }
            obj.put("configs", configs);
            out.println(new ObjectMapper().writeValueAsString(obj));
        } else {
            out.printf("training steps, %d threads, %s products, %d timed after one warm-up (median):%n", Parallel.threads(),
                    Backends.active().name(), options.runs());
            results.forEach(r -> out.println(TrainingBenchmark.describe(r)));
        }
        return 0;
    }

    private static Map<String, Object> toJson(TrainingBenchmark.Result r) {
        Map<String, Object> c = new LinkedHashMap<>();
        boolean lora = r.setup() == TrainingBenchmark.Setup.STAGE3_LORA;
        c.put("name", r.setup().label);
        c.put("stage", r.setup().stage);
        c.put("trains", lora ? "lora" : "aligner");
        c.put("lora_rank", r.loraRank());
        c.put("checkpoint_activations", r.checkpointActivations());
        c.put("batch_size", r.batchSize());
        c.put("seq_len", r.seqLen());
        c.put("image_start", r.imageStart());
        c.put("supervised", r.supervised());
        c.put("trainable_params", r.trainableParameters());
        c.put("step_s", r.step().median());
        c.put("step_s_min", r.step().min());
        c.put("step_s_max", r.step().max());
        c.put("forward_s", r.forward().median());
        c.put("loss_s", r.loss().median());
        c.put("backward_s", r.backward().median());
        c.put("optimizer_s", r.optimizer().median());
        c.put("cpu_s", r.cpu().median());
        c.put("tokens_per_s", r.tokensPerSecond());
        Map<String, Object> phases = new LinkedHashMap<>();
        r.phases().forEach((k, v) -> phases.put(k, stats(v)));
        c.put("phases_s", phases);
        c.put("first_loss", r.firstLoss());
        c.put("estimated_heap_mb", r.estimatedHeap() >> 20);
        c.put("max_heap_mb", r.maxHeap() >> 20);
        c.put("peak_heap_mb", r.peakHeap() >> 20);
        c.put("peak_heap_after_gc_mb", r.heapAfterGc() >> 20);
        c.put("peak_rss_mb", r.peakRss() < 0 ? -1 : r.peakRss() >> 20);
        c.put("peak_rss_scope", r.rssOwn() ? "config" : "process");
        return c;
    }

    private static Map<String, Double> stats(Stats s) {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("median", s.median());
        m.put("min", s.min());
        m.put("max", s.max());
        return m;
    }
}
