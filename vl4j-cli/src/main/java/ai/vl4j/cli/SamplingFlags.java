package ai.vl4j.cli;

import ai.vl4j.generate.SamplingOptions;
import picocli.CommandLine.Option;

/**
 * The sampling flags of run and chat. They have no defaults here because the two commands differ: run is greedy
 * like the reference inference.py, chat samples like the official cli_chat.py.
 */
final class SamplingFlags {
    @Option(names = "--max-new-tokens", paramLabel = "N", description = "Most tokens to generate (run: 512, chat: 512).")
    Integer maxNewTokens;

    @Option(names = "--temperature", paramLabel = "T", description = "0 = greedy (run: 0, as the reference; chat: 0.2, as the official CLI).")
    Float temperature;

    @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling mass (run: 1.0, chat: 0.95).")
    Float topP;

    @Option(names = "--top-k", paramLabel = "K", description = "Sample among the K most likely tokens; 0 = all (default 50, as transformers).")
    Integer topK;

    @Option(names = "--repetition-penalty", paramLabel = "R", description = "Penalty for tokens already generated (run: 1.0, chat: 1.1).")
    Float repetitionPenalty;

    @Option(names = "--seed", paramLabel = "S", description = "Random seed for sampling.")
    Long seed;

    /** The options given, the rest from defaults. */
    SamplingOptions resolve(SamplingOptions defaults) {
        return new SamplingOptions(
                maxNewTokens != null ? maxNewTokens : defaults.maxNewTokens(),
                temperature != null ? temperature : defaults.temperature(),
                topK != null ? topK : defaults.topK(),
                topP != null ? topP : defaults.topP(),
                repetitionPenalty != null ? repetitionPenalty : defaults.repetitionPenalty(),
                seed != null ? seed : defaults.seed());
    }
}
