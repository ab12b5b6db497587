package ai.vl4j.vlm;

import ai.vl4j.llm.KvCache;
import ai.vl4j.llm.LlamaModel;
import java.util.Arrays;
import java.util.Map;

/**
 * A prompt's prefill, run in pieces: the images are encoded when it is made, then {@link #step} runs the next
 * rows of the prompt into the KV cache. A server interleaves the pieces with the decode steps of the requests
 * already answering, so a long prompt delays their next tokens by one piece instead of by the whole prefill.
 * The result is that of one whole prefill up to float rounding (each piece attends to the cached rows before it).
 */
public final class PrefillRun {
    private final LlamaModel llm;
    private final KvCache cache;
    private final float[] x;          // input embeddings of the rows still to run [rows, H]
    private final int rows;           // prompt rows to run (the prompt minus the reused prefix)
    private final int budget;
    private final int reused;
    private final Map<String, Double> timings;
    private int done;
    private float[] logits;

    PrefillRun(LlamaModel llm, KvCache cache, float[] x, int rows, int budget, int reused, Map<String, Double> timings) {
        this.llm = llm;
        this.cache = cache;
        this.x = x;
        this.rows = rows;
        this.budget = budget;
        this.reused = reused;
        this.timings = timings;
    }

    /** Prompt rows not yet in the cache. */
    public int remaining() {
        return rows - done;
    }

    /** Runs up to maxRows more rows; true when the whole prompt is in the cache. */
    public boolean step(int maxRows) {
        if (done == rows) {
            return true;
        }
        int n = Math.min(maxRows, rows - done);
        int h = llm.config().hiddenSize();
        long t0 = System.nanoTime();
        float[] piece = done == 0 && n == rows ? x : Arrays.copyOfRange(x, done * h, (done + n) * h);
        float[] hidden = llm.forward(piece, n, cache);
        done += n;
        if (done == rows) {
            logits = llm.logits(hidden, n - 1);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        timings.merge("prefill_s", seconds, Double::sum);
        if (done == rows) {
            timings.put("prefill_tok_s", rows / Math.max(timings.get("prefill_s"), 1e-9));
        }
        return done == rows;
    }

    /** After the last step: the cache, the logits of the position after the prompt, and the timings. */
    public DeepSeekVl.Prefilled result() {
        if (logits == null) {
            throw new IllegalStateException("the prefill has " + remaining() + " rows left to run");
        }
        return new DeepSeekVl.Prefilled(cache, logits, budget, reused, timings);
    }
}
