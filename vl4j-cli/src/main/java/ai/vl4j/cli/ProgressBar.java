package ai.vl4j.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress display on stderr: label, bar, amount done of the total, rate and time left; redrawn in
 * place at most a few times a second, silent under --quiet.
 */
final class ProgressBar {
    private static final long REDRAW_NANOS = 250_000_000L;
    private final PrintStream err;
    private final boolean bytes;      // amounts are bytes (shown as MB/GB with a rate), else plain counts
    private final String unit;        // counts of this unit, shown with a rate and time left (null: no rate)
    private final boolean enabled;
    private final long started = System.nanoTime();
    private final long quietNanos;    // nothing is drawn before this much time has passed: quick work shows no bar
    private String label;
    private long lastDraw;
    private int lastWidth;
    private boolean drawn;

    ProgressBar(PrintStream err, boolean bytes) {
        this(err, bytes, 0);
    }

    /** A bar that appears only once the work has taken showAfterSeconds. */
    ProgressBar(PrintStream err, boolean bytes, double showAfterSeconds) {
        this(err, bytes, null, showAfterSeconds);
    }

    /** A bar of counts of unit (e.g. "answers"), shown with their rate and the time left. */
    ProgressBar(PrintStream err, String unit) {
        this(err, false, unit, 0);
    }

    private ProgressBar(PrintStream err, boolean bytes, String unit, double showAfterSeconds) {
        this.err = err;
        this.bytes = bytes;
        this.unit = unit;
        this.enabled = !Streams.quiet();
        this.quietNanos = (long) (showAfterSeconds * 1e9);
    }

    /** Shows done of total (total <= 0: unknown) under label; a new label starts a new line. */
    synchronized void update(String name, long done, long total) {
        if (!enabled) {
            return;
        }
        long now = System.nanoTime();
        if (now - started < quietNanos) {
            return;
        }
        boolean newLabel = !name.equals(label);
        if (!newLabel && now - lastDraw < REDRAW_NANOS && done != total) {
            return;
        }
        if (newLabel && drawn) {
            err.println();
            lastWidth = 0;
        }
        label = name;
        lastDraw = now;
        drawn = true;
        String line = render(name, done, total, (now - started) / 1e9);
        err.print("\r" + line + " ".repeat(Math.max(0, lastWidth - line.length())));
        lastWidth = line.length();
        err.flush();
    }

    /** Prints a message on its own line without losing the bar (it is redrawn at the next update). */
    synchronized void note(String message) {
        if (!enabled) {
            return;
        }
        if (drawn) {
            err.print("\r" + " ".repeat(lastWidth) + "\r");
        }
        err.println(message);
        lastDraw = 0;
    }

    /** Ends the display's line. */
    synchronized void done() {
        if (enabled && drawn) {
            err.println();
            drawn = false;
        }
    }

    String render(String name, long done, long total, double seconds) {
        StringBuilder s = new StringBuilder(name);
        if (total > 0) {
            int width = 24;
            int filled = (int) Math.min(width, width * done / total);
            s.append(" [").append("#".repeat(filled)).append(" ".repeat(width - filled)).append(String.format(Locale.ROOT, "] %3d%% ", 100 * done / total));
            s.append(amount(done)).append(" / ").append(amount(total));
        } else if (done > 0) {
            s.append(' ').append(amount(done));
        }
        if ((bytes || unit != null) && seconds > 0.5 && done > 0) {
            double rate = done / seconds;
            s.append("  ").append(bytes ? size((long) rate) : String.format(Locale.ROOT, "%.2f %s", rate, unit)).append("/s");
            if (total > done) {
                s.append("  ").append(duration((total - done) / rate)).append(" left");
            }
        }
        return s.toString();
    }

    private String amount(long n) {
        return bytes ? size(n) : Long.toString(n);
    }

    static String size(long bytes) {
        if (bytes >= 1L << 30) {
            return String.format(Locale.ROOT, "%.2f GB", bytes / (double) (1L << 30));
        }
        if (bytes >= 1L << 20) {
            return String.format(Locale.ROOT, "%.1f MB", bytes / (double) (1L << 20));
        }
        return String.format(Locale.ROOT, "%.1f kB", bytes / 1024.0);
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s >= 3600) {
            return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60);
        }
        if (s >= 60) {
            return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        return s + "s";
    }
}
