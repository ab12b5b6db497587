package ai.vl4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopMatcherTest {
    /** Feeds pieces; returns what was handed out, with "|" between calls that released something. */
    static String feed(StopMatcher m, String... pieces) {
        StringBuilder out = new StringBuilder();
        for (String p : pieces) {
            String released = m.push(p);
            if (!released.isEmpty()) {
                out.append(released).append('|');
            }
        }
        return out.toString();
    }

    @Test
    void noStopStringsReleaseEverythingAtOnce() {
        StopMatcher m = new StopMatcher(List.of());
        assertEquals("ab|cd|", feed(m, "ab", "cd"));
        assertEquals("", m.flush());
        assertFalse(m.stopped());
    }

    @Test
    void stopSplitAcrossPiecesIsNeverShown() {
        StopMatcher m = new StopMatcher(List.of("END"));
        assertEquals("hello |", feed(m, "hello E", "N"));     // "E", then "EN", held back
        assertEquals("", m.push("D and more"));
        assertTrue(m.stopped());
        assertEquals("", m.push("later"));
    }

    @Test
    void aFalseStartIsReleasedWhenItCannotBeAStop() {
        StopMatcher m = new StopMatcher(List.of("END"));
        assertEquals("x|ENx|", feed(m, "xEN", "x"));
        assertFalse(m.stopped());
        assertEquals("", m.flush());
    }

    @Test
    void heldTextIsFlushedAtTheEnd() {
        StopMatcher m = new StopMatcher(List.of("###"));
        assertEquals("a|", feed(m, "a##"));
        assertEquals("##", m.flush());
    }

    @Test
    void theEarliestOfSeveralStopsWins() {
        StopMatcher m = new StopMatcher(List.of("cd", "b"));
        assertEquals("a", m.push("abcd"));
        assertTrue(m.stopped());
    }
}
