package ai.vl4j.server;

import java.util.List;

/**
 * OpenAI's {@code stop} semantics over streamed text: generation ends where the text first contains a stop
 * string, and the returned text excludes it. While streaming, text that could be the start of a stop string is
 * held back until the next pieces decide, so no client ever sees part of a stop string.
 */
final class StopMatcher {
    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();   // not yet released: may begin a stop string
    private boolean stopped;

    StopMatcher(List<String> stops) {
        this.stops = stops;
    }

    /** Adds a generated piece; returns the text that is now safe to hand out (possibly empty). */
    String push(String piece) {
        if (stopped) {
            return "";
        }
        held.append(piece);
        int first = -1;
        for (String s : stops) {
            int at = held.indexOf(s);
            if (at >= 0 && (first < 0 || at < first)) {
                first = at;
            }
        }
        if (first >= 0) {
            stopped = true;
            String out = held.substring(0, first);
            held.setLength(0);
            return out;
        }
        int keep = longestPrefixSuffix();
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** True once a stop string appeared. */
    boolean stopped() {
        return stopped;
    }

    /** At the end of generation (no stop string came): the held-back text. */
    String flush() {
        String out = held.toString();
        held.setLength(0);
        return out;
    }

    /** Length of the longest end of the held text that is a proper prefix of some stop string. */
    private int longestPrefixSuffix() {
        String h = held.toString();
        int best = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, h.length()); k > best; k--) {
                if (h.regionMatches(h.length() - k, s, 0, k)) {
                    best = k;
                    break;
                }
            }
        }
        return best;
    }
}
