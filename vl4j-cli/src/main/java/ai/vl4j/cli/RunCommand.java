package ai.vl4j.cli;

import ai.vl4j.generate.GenerationResult;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.generate.TokenListener;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.tensor.Backends;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.text.ChatTemplate;
import ai.vl4j.text.Message;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.vlm.Prompt;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code vl4j run}: one prompt (with images) in, the model's answer out, streamed or as one JSON object. */
@Command(name = "run", description = "Answer one prompt about zero or more images.", sortOptions = false)
final class RunCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Option(names = {"-i", "--image"}, paramLabel = "FILE",
            description = "Image file or data: URI; repeat for several. Without <image_placeholder> tags in the prompt, one tag per image goes first.")
    List<String> images = new ArrayList<>();

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "The user's message (or give it as the last argument).")
    String prompt;

    @Parameters(arity = "0..1", paramLabel = "PROMPT", description = "The user's message.")
    String positionalPrompt;

    @Mixin
    SamplingFlags sampling;

    @Option(names = "--system", paramLabel = "TEXT", description = "System prompt (default: the DeepSeek-VL one).")
    String system;

    @Mixin
    ComputeOptions compute;

    @Option(names = "--json", description = "Print one JSON object instead of streaming text.")
    boolean json;

    private String prompt() {
        if (prompt != null && positionalPrompt != null) {
            throw new IllegalArgumentException("give the prompt once: either --prompt TEXT or as the last argument");
        }
        if (prompt == null && positionalPrompt == null) {
            throw new IllegalArgumentException("missing the prompt: vl4j run [--image FILE] \"Describe this image.\"");
        }
        return prompt != null ? prompt : positionalPrompt;
    }

    @Override
    public Integer call() throws Exception {
        SamplingOptions options = sampling.resolve(SamplingOptions.GREEDY);
        String text = prompt();
        QuantType quantType = compute.apply();
        PrintStream out = Streams.out();
        PrintStream err = Streams.err();
        List<RgbImage> decoded = new ArrayList<>();
        for (String image : images) {
            decoded.add(ImageLoader.load(image));
        }
        boolean verbose = Streams.verbose();
        long t0 = System.nanoTime();
        try (DeepSeekVl vl = compute.adapt(model.load(quantType, compute.kvPrecision()))) {
            double loadSeconds = (System.nanoTime() - t0) / 1e9;
            List<Message> messages = List.of(Message.user(text, decoded.toArray(RgbImage[]::new)));
            Prompt p = vl.prompt(messages, system == null ? ChatTemplate.DEFAULT_SYSTEM_PROMPT : system);
            GenerationResult r = vl.generate(p, options, new TokenListener() {
                @Override
                public void onToken(int id, String text) {
                    if (!json) {
                        out.print(text);
                        out.flush();
                    }
                }

                @Override
                public void onStage(String stage, double seconds) {
                    if (verbose) {
                        err.printf("%s in %.2f s%n", stage, seconds);
                    }
                }
            });
            if (json) {
                Map<String, Object> obj = new LinkedHashMap<>();
                obj.put("model", model.model);
                obj.put("prompt_tokens", r.promptTokens());
                obj.put("completion_tokens", r.tokenIds().length);
                obj.put("completion_token_ids", r.tokenIds());
                obj.put("text", r.text());
                obj.put("finish_reason", r.finishReason().json());
                Map<String, Double> timings = new LinkedHashMap<>();
                timings.put("load_s", loadSeconds);
                timings.putAll(r.timings());
                obj.put("timings", timings);
                out.println(new ObjectMapper().writeValueAsString(obj));
            } else {
                out.println();
            }
            if (verbose) {
                err.println(Timings.summary(r));
                err.println(Backends.report());
            }
        }
        return 0;
    }
}
