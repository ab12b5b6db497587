package ai.vl4j.generate;

import java.util.Map;

/**
 * Outcome of one generation.
 *
 * @param promptTokens number of ids fed to the LLM (image ids included)
 * @param tokenIds     generated ids, without the final end-of-sentence id
 * @param text         their decoded text (special tokens skipped)
 * @param finishReason why it stopped
 * @param timings      seconds per stage (preprocess, vision, aligner, prefill, decode) and rates
 */
public record GenerationResult(int promptTokens, int[] tokenIds, String text, FinishReason finishReason,
                               Map<String, Double> timings) {
}
