package ai.vl4j.train.data;

import java.nio.file.Path;
import java.util.List;

/**
 * What validating the data found.
 *
 * @param files          the JSONL files, in order
 * @param lines          non-blank lines read
 * @param samples        samples kept (lines - skipped)
 * @param textSamples    kept TEXT samples
 * @param captionSamples kept CAPTION samples (text with images)
 * @param sftSamples     kept SFT samples
 * @param images         images referenced by kept samples
 * @param tokens         total length of the kept samples (images at numImageTokens each)
 * @param supervised     total supervised tokens of the kept samples
 * @param longest        the longest kept sample, in tokens
 * @param skipped        bad lines skipped (only with {@link DataOptions#skipBad})
 * @param reasons        the first skipped lines' messages ({@code FILE:LINE: FIELD: problem})
 */
public record DataReport(List<Path> files, int lines, int samples, int textSamples, int captionSamples, int sftSamples,
                         long images, long tokens, long supervised, int longest, int skipped, List<String> reasons) {
    public DataReport {
        files = List.copyOf(files);
        reasons = List.copyOf(reasons);
    }

    /** One line, e.g. {@code 3 samples (2 caption, 1 text, 0 sft; 2 images), 1193 tokens (38 supervised), longest 589}. */
    public String summary() {
        return samples + " samples (" + captionSamples + " caption, " + textSamples + " text, " + sftSamples + " sft; "
                + images + " images), " + tokens + " tokens (" + supervised + " supervised), longest " + longest
                + (skipped > 0 ? "; " + skipped + " bad line" + (skipped == 1 ? "" : "s") + " skipped" : "");
    }
}
