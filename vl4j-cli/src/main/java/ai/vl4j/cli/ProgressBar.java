package ai.vl4j.cli;

import java.io.PrintStream;

/** A one-line download progress display on stderr, redrawn at most a few times a second. */
final class ProgressBar {
    private final PrintStream err;
    private String file;
    private long lastDraw;
    private boolean drawn;

    ProgressBar(PrintStream err) {
        this.err = err;
    }

    void update(String name, long done, long total) {
        long now = System.nanoTime();
        boolean newFile = !name.equals(file);
        if (!newFile && now - lastDraw < 200_000_000L && done != total) {
            return;
        }
        if (newFile && drawn) {
            err.println();
        }
        file = name;
        lastDraw = now;
        drawn = true;
        if (total > 0) {
            int width = 30;
            int filled = (int) (width * done / total);
            err.printf("\r%s [%s%s] %5.1f%% %s/%s", name, "#".repeat(filled), " ".repeat(width - filled),
                    100.0 * done / total, size(done), size(total));
        } else {
            err.printf("\r%s %s", name, size(done));
        }
        err.flush();
    }

    void done() {
        if (drawn) {
            err.println();
        }
    }

    static String size(long bytes) {
        if (bytes >= 1L << 30) {
            return String.format("%.2f GB", bytes / (double) (1L << 30));
        }
        if (bytes >= 1L << 20) {
            return String.format("%.1f MB", bytes / (double) (1L << 20));
        }
        return String.format("%.1f kB", bytes / 1024.0);
    }
}
