package ai.vl4j.cli;

import ai.vl4j.zeroshot.ZeroShotClassifier;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code vl4j embed}: the L2-normalised embedding of an image or a text under a SigLIP or CLIP model (for retrieval). */
@Command(name = "embed", description = "Print the normalised embedding of an image or a text (SigLIP or CLIP).", sortOptions = false)
final class EmbedCommand implements Callable<Integer> {
    @Mixin
    ZeroShotOptions options;

    static final class Input {
        @Option(names = {"-i", "--image"}, paramLabel = "FILE", required = true, description = "Embed this image (file or data URI).")
        String image;

        @Option(names = {"-t", "--text"}, paramLabel = "TEXT", required = true, description = "Embed this text (as given: no template).")
        String text;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    @Option(names = "--json", description = "Print {\"model\", \"family\", \"input\", \"dim\", \"embedding\": [...]} (text: also \"input_ids\").")
    boolean json;

    @Override
    public Integer call() throws Exception {
        var picture = input.image == null ? null : ZeroShotOptions.image(input.image);
        PrintStream out = Streams.out();
        try (ZeroShotClassifier zs = options.load()) {
            Map<String, Object> obj = new LinkedHashMap<>();
            obj.put("model", options.model);
            obj.put("family", zs.family());
            float[] embedding;
            if (picture != null) {
                obj.put("input", "image");
                embedding = zs.embedImage(picture);
            } else {
                obj.put("input", "text");
                obj.put("input_ids", zs.model().inputIds(input.text));
                embedding = zs.embedText(input.text);
            }
            obj.put("dim", embedding.length);
            obj.put("embedding", embedding);
            if (json) {
                out.println(new ObjectMapper().writeValueAsString(obj));
            } else {
                StringJoiner line = new StringJoiner(" ");
                for (float v : embedding) {
                    line.add(Float.toString(v));
                }
                out.println(line);
            }
        }
        return 0;
    }
}
