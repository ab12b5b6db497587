package ai.vl4j.cli;

import ai.vl4j.hub.HubClient;
import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/** Shows a pull as one bar over all its files (they download in parallel): bytes, rate, time left. */
final class DownloadProgress implements HubClient.Listener {
    private final ProgressBar bar;
    private volatile String label;
    private final ConcurrentHashMap<String, Long> doneByFile = new ConcurrentHashMap<>();
    private volatile long total = -1;

    DownloadProgress(PrintStream err, String label) {
        this.bar = new ProgressBar(err, true);
        this.label = label;
    }

    @Override
    public void plan(List<HubClient.RemoteFile> files) {
        long sum = 0;
        for (HubClient.RemoteFile f : files) {
            if (f.size() < 0) {
                sum = -1;
                break;
            }
            sum += f.size();
        }
        total = sum;
        label = label + " (" + files.size() + (files.size() == 1 ? " file)" : " files)");
        bar.update(label, 0, total);
    }

    @Override
    public void transferred(String file, long done, long fileTotal) {
        doneByFile.put(file, done);
        long sum = doneByFile.values().stream().mapToLong(Long::longValue).sum();
        bar.update(label, sum, total);
    }

    @Override
    public void note(String message) {
        bar.note("vl4j: " + message);
    }

    void done() {
        bar.done();
    }
}
