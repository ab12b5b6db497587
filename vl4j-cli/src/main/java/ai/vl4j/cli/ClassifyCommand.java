package ai.vl4j.cli;

import ai.vl4j.image.RgbImage;
import ai.vl4j.zeroshot.LabelScore;
import ai.vl4j.zeroshot.LabelSet;
import ai.vl4j.zeroshot.ZeroShotClassifier;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code vl4j classify}: zero-shot classification of an image against labels with a SigLIP or CLIP model. */
@Command(name = "classify", description = "Rank labels for an image with a SigLIP or CLIP model (zero-shot).", sortOptions = false)
final class ClassifyCommand implements Callable<Integer> {
    @Mixin
    ZeroShotOptions options;

    @Option(names = {"-i", "--image"}, paramLabel = "FILE", required = true, description = "The image (file or data URI).")
    String image;

    @Option(names = "--labels", paramLabel = "A,B,C", required = true, description = "Candidate labels, comma-separated.")
    String labels;

    @Option(names = "--template", paramLabel = "TEXT", defaultValue = ZeroShotClassifier.DEFAULT_TEMPLATE,
            description = "Text made of each label, {} = the label (default \"${DEFAULT-VALUE}\").")
    String template;

    @Option(names = "--json", description = "Print {\"labels\": [{\"label\", \"score\", \"logit\"}]}, best first.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        List<String> labelList = parseLabels(labels);
        ZeroShotClassifier.checkLabels(labelList, "--labels");
        ZeroShotClassifier.checkTemplate(template, "--template");
        RgbImage picture = ZeroShotOptions.image(image);
        PrintStream out = Streams.out();
        try (ZeroShotClassifier zs = options.load()) {
            LabelSet set = zs.labels(labelList, template);
            List<LabelScore> ranked = zs.classify(picture, set);
            if (json) {
                List<Map<String, Object>> rows = new ArrayList<>();
                for (LabelScore s : ranked) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("label", s.label());
                    row.put("score", s.score());
                    row.put("logit", s.logit());
                    rows.add(row);
                }
                Map<String, Object> obj = new LinkedHashMap<>();
                obj.put("model", options.model);
                obj.put("family", zs.family());
                obj.put("template", template);
                obj.put("labels", rows);
                out.println(new ObjectMapper().writeValueAsString(obj));
            } else {
                out.printf("%-8s %9s  %s%n", "score", "logit", "label");
                for (LabelScore s : ranked) {
                    out.printf("%.6f %9.4f  %s%n", s.score(), s.logit(), s.label());
                }
            }
        }
        return 0;
    }

    /** "a, b,c" → [a, b, c] (trimmed); a blank value is an empty list. */
    static List<String> parseLabels(String value) {
        if (value.isBlank()) {
            return List.of();
        }
        return Arrays.stream(value.split(",", -1)).map(String::trim).toList();
    }
}
