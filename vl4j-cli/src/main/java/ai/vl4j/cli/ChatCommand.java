package ai.vl4j.cli;

import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.vlm.DeepSeekVl;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/** {@code vl4j chat}: an interactive multi-turn conversation in the terminal, answers streamed. */
@Command(name = "chat", description = "Chat with the model in the terminal, over several turns and images.", sortOptions = false)
final class ChatCommand implements Callable<Integer> {
    /**
     * The official cli_chat.py's defaults: temperature 0.2, top-p 0.95, repetition penalty 1.1, 512 new tokens
     * (with --temperature 0 it decodes greedily without top-p or penalty, as that script does).
     */
    static final SamplingOptions OFFICIAL_CLI_DEFAULTS = new SamplingOptions(512, 0.2f, 50, 0.95f, 1.1f, null);

    @Mixin
    ModelOption model;

    @Option(names = {"-i", "--image"}, paramLabel = "FILE", description = "Image for the first message; repeat for several.")
    List<String> images = new ArrayList<>();

    @Mixin
    SamplingFlags sampling;

    @Option(names = "--system", paramLabel = "TEXT", description = "System prompt (default: the DeepSeek-VL one).")
    String system;

    @Option(names = "--context", paramLabel = "N",
            description = "Tokens of conversation kept (default: the model's context, 4096); older rounds are dropped.")
    Integer context;

    @Mixin
    ComputeOptions compute;

    @Override
    public Integer call() throws Exception {
        // as the official CLI: top-p and the repetition penalty are sampling settings, off when decoding greedily
        boolean greedy = sampling.temperature != null && sampling.temperature == 0f;
        SamplingOptions options = sampling.resolve(greedy ? SamplingOptions.GREEDY : OFFICIAL_CLI_DEFAULTS);
        var quant = compute.apply();
        try (DeepSeekVl vl = compute.adapt(model.load(quant, compute.kvPrecision()))) {
            int modelContext = vl.config().language().maxPositions();
            if (context != null && (context < 2 || context > modelContext)) {
                throw new IllegalArgumentException("--context must be in 2.." + modelContext + ", got " + context);
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(Streams.in(), StandardCharsets.UTF_8));
            ChatRepl repl = new ChatRepl(vl, in, Streams.out(), Streams.err(), options,
                    context != null ? context : modelContext, (prompt, result) -> { });
            if (system != null) {
                repl.conversation().systemPrompt(system);
            }
            repl.greet(model.model);
            for (String image : images) {
                repl.attach(image);
            }
            SignalHandler previous = onCtrlC(repl);
            try {
                repl.run();
            } finally {
                if (previous != null) {
                    Signal.handle(new Signal("INT"), previous);
                }
            }
        }
        return 0;
    }

    /**
     * Ctrl-C stops the answer being written instead of the program; at the prompt it says how to quit. Returns the
     * handler it replaced, or null where the signal cannot be caught.
     */
    private static SignalHandler onCtrlC(ChatRepl repl) {
        try {
            return Signal.handle(new Signal("INT"), signal -> {
                if (!repl.interrupt()) {
                    Streams.err().println();
                    Streams.err().println("(type /exit or press Ctrl-D to quit)");
                }
            });
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            return null;
        }
    }
}
