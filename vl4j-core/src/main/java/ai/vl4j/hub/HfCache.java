package ai.vl4j.hub;

import ai.vl4j.Vl4jException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The Hugging Face cache layout, shared with the Python tools so a model downloaded by either is found by both:
 * <pre>
 *   $HF_HUB_CACHE  (default $HF_HOME/hub, HF_HOME default ~/.cache/huggingface)
 *     models--ORG--NAME/blobs/ETAG                 (file contents, named by the hub's ETag: the LFS sha256
 *                                                    or the git blob id)
 *     models--ORG--NAME/refs/REVISION              (holds the commit hash)
 *     models--ORG--NAME/snapshots/COMMIT/FILE  ->  ../../blobs/ETAG
 * </pre>
 */
public final class HfCache {
    private static final String PREFIX = "models--";
    private final Path root;

    public HfCache(Path root) {
        this.root = root;
    }

    /** The cache the environment points at. */
    public static HfCache fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /** The cache that HF_HUB_CACHE, HF_HOME or XDG_CACHE_HOME of env point at. */
    public static HfCache fromEnvironment(Map<String, String> env) {
        return new HfCache(defaultRoot(env, System.getProperty("user.home")));
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
        return root.resolve(PREFIX + repoId.replace("/", "--"));
    }

    /** Where the Python tools keep their lock files for a repository. */
    Path lockDir(String repoId) {
        return root.resolve(".locks").resolve(PREFIX + repoId.replace("/", "--"));
    }

    /** The snapshot folder a revision points at, or null when the revision was never downloaded. */
    public Path snapshot(String repoId, String revision) {
        Path repo = repoDir(repoId);
        Path direct = repo.resolve("snapshots").resolve(revision);
        if (Files.isDirectory(direct)) {
            return direct;
        }
        String commit = readRef(repo, revision);
        if (commit == null) {
            return null;
        }
        Path snap = repo.resolve("snapshots").resolve(commit);
        return Files.isDirectory(snap) ? snap : null;
    }

    private static String readRef(Path repo, String revision) {
        Path ref = repo.resolve("refs").resolve(revision);
        if (!Files.isRegularFile(ref)) {
            return null;
        }
        try {
            return Files.readString(ref).trim();
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * True when a snapshot holds a loadable model: config.json, tokenizer.json and the weights (a single
     * model.safetensors, or an index whose every shard is present). Links to missing blobs do not count.
     */
    public static boolean isComplete(Path snapshot) {
        if (!Files.isRegularFile(snapshot.resolve("config.json")) || !Files.isRegularFile(snapshot.resolve("tokenizer.json"))) {
            return false;
        }
        if (Files.isRegularFile(snapshot.resolve("model.safetensors"))) {
            return true;
        }
        Path index = snapshot.resolve("model.safetensors.index.json");
        if (!Files.isRegularFile(index)) {
            return false;
        }
        try {
            JsonNode map = new ObjectMapper().readTree(index.toFile()).path("weight_map");
            Set<String> shards = new HashSet<>();
            map.forEach(v -> shards.add(v.asText()));
            return !shards.isEmpty() && shards.stream().allMatch(s -> Files.isRegularFile(snapshot.resolve(s)));
        } catch (IOException e) {
            return false;
        }
    }

    /** A cached snapshot: its commit, the refs (branch or tag names) that point at it, and whether it loads. */
    public record Snapshot(String commit, List<String> refs, Path folder, boolean complete) {
    }

    /** A cached repository: its blobs' total size on disk and when it last changed. */
    public record CachedModel(String repoId, Path folder, long bytes, Instant modified, List<Snapshot> snapshots) {
    }

    /** Every model repository in the cache (datasets and spaces are not listed), sorted by id. */
    public List<CachedModel> models() {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        List<CachedModel> models = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.sorted().toList()) {
                String name = dir.getFileName().toString();
                if (name.startsWith(PREFIX) && Files.isDirectory(dir)) {
                    models.add(describe(name.substring(PREFIX.length()).replaceFirst("--", "/"), dir));
                }
            }
        } catch (IOException e) {
            throw new Vl4jException(root + ": cannot list the Hugging Face cache (" + e.getMessage() + ")", e);
        }
        return models;
    }

    /** The cached repository repoId, or null. */
    public CachedModel find(String repoId) {
        Path dir = repoDir(repoId);
        return Files.isDirectory(dir) ? describe(repoId, dir) : null;
    }

    private static CachedModel describe(String repoId, Path dir) {
        Map<String, List<String>> refsByCommit = new TreeMap<>();
        Path refs = dir.resolve("refs");
        if (Files.isDirectory(refs)) {
            try (Stream<Path> files = Files.walk(refs)) {
                files.filter(Files::isRegularFile).forEach(f -> {
                    String commit = readRef(dir, refs.relativize(f).toString());
                    if (commit != null) {
                        refsByCommit.computeIfAbsent(commit, k -> new ArrayList<>()).add(refs.relativize(f).toString());
                    }
                });
            } catch (IOException | UncheckedIOException e) {
                // unreadable refs: the snapshots are still listed, without names
            }
        }
        List<Snapshot> snapshots = new ArrayList<>();
        Path snaps = dir.resolve("snapshots");
        if (Files.isDirectory(snaps)) {
            try (Stream<Path> list = Files.list(snaps)) {
                for (Path s : list.sorted().toList()) {
                    String commit = s.getFileName().toString();
                    snapshots.add(new Snapshot(commit, refsByCommit.getOrDefault(commit, List.of()), s, isComplete(s)));
                }
            } catch (IOException e) {
                // listed as having no snapshots
            }
        }
        long[] bytes = {0};
        Instant[] modified = {Instant.EPOCH};
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (attrs.isRegularFile() && file.getParent().getFileName().toString().equals("blobs")) {
                        // only blobs hold content (snapshot entries are links, refs a few bytes): each counts once
                        bytes[0] += attrs.size();
                    }
                    if (attrs.lastModifiedTime().toInstant().isAfter(modified[0])) {
                        modified[0] = attrs.lastModifiedTime().toInstant();
                    }
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            // size unknown: reported as what was counted
        }
        return new CachedModel(repoId, dir, bytes[0], modified[0], snapshots);
    }

    /**
     * Deletes a cached repository (blobs, snapshots, refs and the Python tools' lock files) and returns the bytes
     * freed, or -1 when it is not in the cache.
     */
    public long remove(String repoId) {
        Path dir = repoDir(repoId);
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return -1;
        }
        long bytes = describe(repoId, dir).bytes();
        deleteTree(dir);
        deleteTree(lockDir(repoId));
        return bytes;
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        } catch (IOException | UncheckedIOException e) {
            throw new Vl4jException(dir + ": cannot delete (" + e.getMessage() + ")", e);
        }
    }
}
