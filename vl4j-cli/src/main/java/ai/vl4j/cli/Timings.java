package ai.vl4j.cli;

import ai.vl4j.generate.GenerationResult;
import java.util.Map;

/** A human summary of a generation's timings. */
final class Timings {
    private Timings() {
    }

    static String summary(GenerationResult r) {
        Map<String, Double> t = r.timings();
        String cached = t.containsKey("cached_prompt_tokens") ? String.format(" (%.0f cached)", t.get("cached_prompt_tokens")) : "";
        return String.format("prompt %d tokens%s, generated %d (%s) | image %.2f s (vision %.2f s) | prefill %.2f s, %.1f tok/s"
                        + " | decode %.1f tok/s | time to first token %.2f s",
                r.promptTokens(), cached, r.tokenIds().length, r.finishReason().json(),
                t.getOrDefault("preprocess_s", 0.0) + t.getOrDefault("vision_s", 0.0) + t.getOrDefault("aligner_s", 0.0),
                t.getOrDefault("vision_s", 0.0), t.get("prefill_s"), t.get("prefill_tok_s"), t.get("decode_tok_s"), t.get("ttft_s"));
    }
}
