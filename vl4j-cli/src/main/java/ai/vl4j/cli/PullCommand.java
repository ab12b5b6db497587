package ai.vl4j.cli;

import ai.vl4j.hub.HfCache;
import ai.vl4j.hub.HubClient;
import ai.vl4j.hub.ModelResolver;
import ai.vl4j.hub.RepoRef;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code vl4j pull ORG/NAME[@REV]}: makes the Hugging Face cache hold a complete, verified copy of a model.
 * Files already there are checked against the hub's checksums (a corrupt one is fetched again), missing ones are
 * downloaded in parallel and partial ones resumed.
 */
@Command(name = "pull", description = "Download a model from Hugging Face into the local cache (resumable, verified).")
final class PullCommand implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "MODEL", defaultValue = ModelResolver.DEFAULT_MODEL,
            description = "Hugging Face id ORG/NAME[@REVISION] (default ${DEFAULT-VALUE}).")
    String model;

    @Override
    public Integer call() {
        RepoRef ref = RepoRef.parse(model);
        HubClient hub = HubClient.fromEnvironment(Streams.env());
        long t0 = System.nanoTime();
        DownloadProgress progress = new DownloadProgress(Streams.err(), "pulling " + ref);
        Path snapshot;
        try {
            snapshot = hub.pull(ref, true, progress);
        } finally {
            progress.done();
        }
        HfCache.CachedModel cached = hub.cache().find(ref.repo());
        Streams.out().printf("%s: %s at commit %s (%s in the cache, %.1f s)%n", ref, snapshot,
                snapshot.getFileName(), ProgressBar.size(cached == null ? 0 : cached.bytes()), (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
