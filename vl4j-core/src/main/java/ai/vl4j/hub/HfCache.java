package ai.vl4j.hub;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The Hugging Face cache layout, shared with the Python tools so a model downloaded by either is found by both:
 * <pre>
 *   $HF_HUB_CACHE  (default $HF_HOME/hub, HF_HOME default ~/.cache/huggingface)
 *     models--ORG--NAME/blobs/ETAG
 *     models--ORG--NAME/refs/REVISION              (holds the commit hash)
 *     models--ORG--NAME/snapshots/COMMIT/FILE  ->  ../../blobs/ETAG
 * </pre>
 */
public final class HfCache {
    private final Path root;

    public HfCache(Path root) {
        this.root = root;
    }

    /** The cache the environment points at. */
    public static HfCache fromEnvironment() {
        return new HfCache(defaultRoot(System.getenv(), System.getProperty("user.home")));
    }

    static Path defaultRoot(Map<String, String> env, String home) {
        String hubCache = env.get("HF_HUB_CACHE");
        if (hubCache != null && !hubCache.isBlank()) {
            return Path.of(hubCache);
        }
        String hfHome = env.get("HF_HOME");
        if (hfHome != null && !hfHome.isBlank()) {
            return Path.of(hfHome, "hub");
        }
        String xdg = env.get("XDG_CACHE_HOME");
        Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(home, ".cache");
        return cache.resolve("huggingface").resolve("hub");
    }

    public Path root() {
        return root;
    }

    /** models--ORG--NAME */
    public Path repoDir(String repoId) {
        return root.resolve("models--" + repoId.replace("/", "--"));
    }

    /** The snapshot folder a revision points at, or null when the revision was never downloaded. */
    public Path snapshot(String repoId, String revision) {
        Path repo = repoDir(repoId);
        Path direct = repo.resolve("snapshots").resolve(revision);
        if (Files.isDirectory(direct)) {
            return direct;
        }
        Path ref = repo.resolve("refs").resolve(revision);
        if (!Files.isRegularFile(ref)) {
            return null;
        }
        try {
            Path snap = repo.resolve("snapshots").resolve(Files.readString(ref).trim());
            return Files.isDirectory(snap) ? snap : null;
        } catch (IOException e) {
            return null;
        }
    }
}
