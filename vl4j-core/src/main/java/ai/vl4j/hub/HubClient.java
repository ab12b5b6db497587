package ai.vl4j.hub;

import ai.vl4j.InvalidInputException;
import ai.vl4j.Vl4jException;
import ai.vl4j.config.JsonErrors;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Downloads a model repository from a Hugging Face hub into the {@link HfCache}: the files vl4j needs
 * (configs, tokenizer, safetensors), several at a time. Each file is written to {@code blobs/ETAG.incomplete}
 * first, continued with an HTTP range request when the connection drops (or a previous run was cut off),
 * checked against the checksum the hub names (the SHA-256 of LFS files, the git blob id of small ones), then
 * moved into place and linked from the snapshot folder. A failure never leaves a partial file under a final
 * name; the refs file is written last, so an interrupted pull is never mistaken for a complete one.
 */
public final class HubClient {
    /** What a download reports as it goes. Methods may be called from several download threads at once. */
    public interface Listener {
        /** The files about to be fetched or checked, before any transfer. */
        default void plan(List<RemoteFile> files) {
        }

        /** Bytes of file now present (cached bytes included), of total (-1 if unknown). */
        void transferred(String file, long done, long total);

        /** Something the user should know: a resumed connection, a corrupt blob fetched again. */
        default void note(String message) {
        }
    }

    /** A file of the repository at the resolved commit, as the hub describes it. */
    public record RemoteFile(String name, String etag, long size) {
    }

    public static final Listener SILENT = (file, done, total) -> { };
    private static final java.util.concurrent.ConcurrentHashMap<Path, Object> BLOB_MONITORS = new java.util.concurrent.ConcurrentHashMap<>();
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI endpoint;
    private final String token;
    private final HfCache cache;
    private final boolean offline;
    private final HttpClient http;   // redirects are followed by hand: the token must not reach the CDN
    private int parallelFiles = 4;
    private int attempts = 6;
    private Duration retryDelay = Duration.ofSeconds(2);
    private Duration stallTimeout = Duration.ofSeconds(60);

    public HubClient(URI endpoint, String token, HfCache cache) {
        this(endpoint, token, cache, false);
    }

    public HubClient(URI endpoint, String token, HfCache cache, boolean offline) {
        this.endpoint = endpoint;
        this.token = token;
        this.cache = cache;
        this.offline = offline;
        this.http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(30)).build();
    }

    /** The client the process environment describes. */
    public static HubClient fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /** HF_ENDPOINT (default https://huggingface.co), HF_TOKEN, HF_HUB_OFFLINE and the cache of env. */
    public static HubClient fromEnvironment(Map<String, String> env) {
        String endpoint = Optional.ofNullable(env.get("HF_ENDPOINT")).filter(s -> !s.isBlank()).orElse("https://huggingface.co");
        return new HubClient(URI.create(endpoint.replaceAll("/+$", "")), env.get("HF_TOKEN"), HfCache.fromEnvironment(env),
                isTrue(env.get("HF_HUB_OFFLINE")));
    }

    /** huggingface_hub's reading of a boolean environment variable. */
    static boolean isTrue(String value) {
        return value != null && List.of("1", "true", "yes", "on").contains(value.trim().toLowerCase(Locale.ROOT));
    }

    public HfCache cache() {
        return cache;
    }

    /** True under HF_HUB_OFFLINE: only the cache is used. */
    public boolean offline() {
        return offline;
    }

    /** Tuning for tests and slow links: files fetched at once, tries per file, pause before a retry. */
    public HubClient withRetries(int parallelFiles, int attempts, Duration retryDelay) {
        this.parallelFiles = Math.max(1, parallelFiles);
        this.attempts = Math.max(1, attempts);
        this.retryDelay = retryDelay;
        return this;
    }

    /** A transfer that delivers no byte for this long is abandoned and resumed (default 60 s). */
    public HubClient withStallTimeout(Duration timeout) {
        this.stallTimeout = timeout;
        return this;
    }

    /** True for files a DeepSeek-VL model folder needs. */
    static boolean wanted(String file) {
        return !file.contains("/") && (file.endsWith(".json") || file.endsWith(".safetensors"));
    }

    /**
     * Makes the cache hold ref completely and returns its snapshot folder. Files already cached are kept; with
     * verify, their checksums are checked first and a corrupt blob is fetched again.
     */
    public Path pull(RepoRef ref, boolean verify, Listener listener) {
        if (offline) {
            throw new Vl4jException(ref + ": cannot download with HF_HUB_OFFLINE set");
        }
        String repoId = ref.repo();
        JsonNode info = getJson(endpoint + "/api/models/" + repoId + "/revision/" + encode(ref.revision()), ref);
        String commit = info.path("sha").asText("");
        if (!commit.matches("[0-9a-f]{40}")) {
            throw new Vl4jException(ref + ": the hub's answer names no commit");
        }
        List<String> names = new ArrayList<>();
        info.path("siblings").forEach(s -> {
            String name = s.path("rfilename").asText();
            if (wanted(name)) {
                names.add(name);
            }
        });
        if (names.stream().noneMatch(f -> f.endsWith(".safetensors"))) {
            throw new InvalidInputException(ref + ": the repository has no .safetensors weights (vl4j reads safetensors only)");
        }
        List<RemoteFile> files = new ArrayList<>();
        for (String name : names) {
            files.add(describe(ref, commit, name));
        }
        listener.plan(files);
        Path repo = cache.repoDir(repoId);
        Path snapshot = repo.resolve("snapshots").resolve(commit);
        try {
            Files.createDirectories(repo.resolve("blobs"));
            Files.createDirectories(snapshot);
            fetchAll(ref, commit, files, repo, snapshot, verify, listener);
            if (!ref.isCommit()) {
                Path refFile = repo.resolve("refs").resolve(ref.revision());
                Files.createDirectories(refFile.getParent());
                writeAtomically(refFile, commit);
            }
        } catch (IOException e) {
            throw new Vl4jException(ref + ": download failed (" + e.getMessage() + ")", e);
        }
        return snapshot;
    }

    private void fetchAll(RepoRef ref, String commit, List<RemoteFile> files, Path repo, Path snapshot, boolean verify,
                          Listener listener) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(parallelFiles, files.size()), r -> {
            Thread t = new Thread(r, "vl4j-download");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> jobs = new ArrayList<>();
            for (RemoteFile f : files) {
                jobs.add(pool.submit(() -> {
                    ensureFile(ref, commit, f, repo, snapshot, verify, listener);
                    return null;
                }));
            }
            for (Future<?> job : jobs) {
                try {
                    job.get();
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    if (cause instanceof IOException io) {
                        throw io;
                    }
                    if (cause instanceof RuntimeException re) {
                        throw re;
                    }
                    throw new IOException(cause);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("download interrupted");
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Puts one file into blobs/ (fetching it unless a good copy is there) and links it from the snapshot. */
    private void ensureFile(RepoRef ref, String commit, RemoteFile f, Path repo, Path snapshot, boolean verify,
                            Listener listener) throws IOException {
        String blobName = f.etag() != null ? f.etag() : commit + "-" + f.name();
        Path blob = repo.resolve("blobs").resolve(blobName);
        Path lockFile = cache.lockDir(ref.repo()).resolve(blobName + ".lock");
        Files.createDirectories(lockFile.getParent());
        // One fetch of a blob at a time: threads of this JVM queue on the monitor, other vl4j processes on the file lock.
        synchronized (BLOB_MONITORS.computeIfAbsent(lockFile, k -> new Object())) {
            try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock lock = ch.lock()) {
            if (Files.isRegularFile(blob) && verify && !Checksums.matches(blob, f.etag())) {
                listener.note(f.name() + ": the cached copy is corrupt (checksum mismatch); fetching it again");
                Files.delete(blob);
            }
            if (Files.isRegularFile(blob)) {
                long size = Files.size(blob);
                listener.transferred(f.name(), size, size);
            } else {
                fetchBlob(ref, commit, f, blob, listener);
            }
            }
        }
        Path link = snapshot.resolve(f.name());
        Path tmp = snapshot.resolve("." + f.name() + ".link");
        Files.deleteIfExists(tmp);
        try {
            Files.createSymbolicLink(tmp, snapshot.relativize(blob));
        } catch (UnsupportedOperationException | IOException e) {
            Files.copy(blob, tmp);   // file systems without symbolic links get a copy, as the Python tools do
        }
        Files.move(tmp, link, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Downloads into blob.incomplete (resuming), verifies, and moves it into place; a bad checksum is refetched once. */
    private void fetchBlob(RepoRef ref, String commit, RemoteFile f, Path blob, Listener listener) throws IOException {
        URI uri = resolveUri(ref.repo(), commit, f.name());
        Path partial = blob.resolveSibling(blob.getFileName() + ".incomplete");
        for (int round = 1; ; round++) {
            downloadResuming(uri, f, partial, listener);
            if (f.etag() == null || Checksums.matches(partial, f.etag())) {
                Files.move(partial, blob, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                return;
            }
            Files.delete(partial);
            if (round == 2) {
                throw new IOException(f.name() + ": checksum mismatch twice (expected " + f.etag()
                        + "); the download was removed, try again later");
            }
            listener.note(f.name() + ": checksum mismatch (expected " + f.etag() + "); downloading it again");
        }
    }

    /** GETs uri into partial, continuing with range requests after dropped connections and server errors. */
    private void downloadResuming(URI uri, RemoteFile f, Path partial, Listener listener) throws IOException {
        for (int attempt = 1; ; attempt++) {
            long have = Files.exists(partial) ? Files.size(partial) : 0;
            try {
                downloadOnce(uri, f, partial, have, listener);
                return;
            } catch (RetryableException e) {
                if (attempt >= attempts) {
                    throw new IOException(f.name() + ": " + e.getMessage() + " (gave up after " + attempts + " tries)", e);
                }
                long now = Files.exists(partial) ? Files.size(partial) : 0;
                listener.note(f.name() + ": " + e.getMessage() + " at " + now + " bytes; resuming (try " + (attempt + 1)
                        + " of " + attempts + ")");
                pause(attempt);
            }
        }
    }

    private void downloadOnce(URI uri, RemoteFile f, Path partial, long have, Listener listener) throws IOException {
        HttpResponse<InputStream> response;
        try {
            response = getFollowingRedirects(uri, have, f.name());
        } catch (HttpTimeoutOrReset e) {
            throw new RetryableException(e.getMessage());
        }
        int status = response.statusCode();
        if (status == 416 && have > 0) {   // nothing left to fetch: the partial file is complete
            response.body().close();
            return;
        }
        if (status >= 500 || status == 429) {
            response.body().close();
            throw new RetryableException("the server answered HTTP " + status);
        }
        if (status != 200 && status != 206) {
            response.body().close();
            throw new IOException(f.name() + ": " + HubErrors.describe(status, response.headers(), f.name()));
        }
        boolean append = status == 206;
        long done = append ? have : 0;
        long length = response.headers().firstValueAsLong("Content-Length").orElse(-1);
        long total = length < 0 ? f.size() : length + done;
        InputStream in = response.body();
        StallWatch watch = new StallWatch(in, stallTimeout);
        try (in; watch;
             OutputStream out = Files.newOutputStream(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                     append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            listener.transferred(f.name(), done, total);
            byte[] buf = new byte[1 << 20];
            int n;
            while ((n = in.read(buf)) > 0) {
                watch.progressed();
                out.write(buf, 0, n);
                done += n;
                listener.transferred(f.name(), done, total);
            }
        } catch (IOException e) {
            if (e instanceof InterruptedIOException || Thread.currentThread().isInterrupted()) {
                throw e;
            }
            throw new RetryableException(watch.stalled() ? "no data for " + stallTimeout.toSeconds() + " s"
                    : "connection lost (" + e.getClass().getSimpleName() + ")");
        }
        if (watch.stalled()) {
            throw new RetryableException("no data for " + stallTimeout.toMillis() / 1000.0 + " s");
        }
        if (length >= 0 && done < total) {
            throw new RetryableException("connection closed early");
        }
    }

    private void pause(int attempt) throws InterruptedIOException {
        try {
            Thread.sleep(retryDelay.toMillis() * Math.min(attempt, 8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("download interrupted");
        }
    }

    /**
     * The hub's description of a file, from a HEAD request answered by the hub itself (not the CDN it redirects
     * to): X-Linked-Etag / X-Linked-Size for LFS files, ETag / Content-Length for small ones.
     */
    private RemoteFile describe(RepoRef ref, String commit, String name) {
        URI uri = resolveUri(ref.repo(), commit, name);
        for (int hop = 0; hop < 5; hop++) {
            HttpResponse<Void> head = send(request(uri).method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.discarding(), ref);
            int status = head.statusCode();
            String location = head.headers().firstValue("Location").orElse(null);
            boolean linked = head.headers().firstValue("X-Linked-Etag").isPresent();
            if (status >= 300 && status < 400 && location != null && !linked && URI.create(location).getHost() == null) {
                uri = uri.resolve(location);   // a renamed repository: relative redirect on the hub itself
                continue;
            }
            if (status >= 400) {
                throw HubErrors.failure(ref, status, head.headers(), name);
            }
            String etag = etag(head);
            long size = head.headers().firstValueAsLong("X-Linked-Size")
                    .orElse(status < 300 ? head.headers().firstValueAsLong("Content-Length").orElse(-1) : -1);
            return new RemoteFile(name, etag, size);
        }
        throw new Vl4jException(ref + ": " + name + ": too many redirects");
    }

    private URI resolveUri(String repoId, String commit, String file) {
        return URI.create(endpoint + "/" + repoId + "/resolve/" + commit + "/" + encode(file));
    }

    /** The hub's id of a file's content: X-Linked-Etag for LFS files (their SHA-256), else ETag. */
    private static String etag(HttpResponse<?> response) {
        String v = response.headers().firstValue("X-Linked-Etag").or(() -> response.headers().firstValue("ETag")).orElse(null);
        if (v == null) {
            return null;
        }
        v = v.replace("W/", "").replace("\"", "").trim();
        return v.isEmpty() || !v.matches("[A-Za-z0-9._-]+") ? null : v;
    }

    private JsonNode getJson(String url, RepoRef ref) {
        HttpResponse<InputStream> response = send(request(URI.create(url)).build(), HttpResponse.BodyHandlers.ofInputStream(), ref);
        try (InputStream in = response.body()) {
            if (response.statusCode() != 200) {
                throw HubErrors.failure(ref, response.statusCode(), response.headers(), null);
            }
            return JSON.readTree(in);
        } catch (JacksonException e) {
            throw new Vl4jException(ref + ": the hub's answer is not valid JSON (" + JsonErrors.describe(e) + ")", e);
        } catch (IOException e) {
            throw new Vl4jException(ref + ": cannot read the hub's answer (" + e.getMessage() + ")", e);
        }
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).header("User-Agent", "vl4j").timeout(Duration.ofSeconds(60));
        if (token != null && !token.isBlank() && sameOrigin(uri)) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    private boolean sameOrigin(URI uri) {
        return endpoint.getHost() != null && endpoint.getHost().equalsIgnoreCase(uri.getHost()) && endpoint.getPort() == uri.getPort()
                && endpoint.getScheme().equalsIgnoreCase(uri.getScheme());
    }

    /**
     * GET with redirects followed here rather than by the client, so the hub token is never sent to another
     * host (CDN links are pre-signed and reject a second credential).
     */
    private HttpResponse<InputStream> getFollowingRedirects(URI uri, long rangeStart, String file) throws IOException {
        URI current = uri;
        for (int hop = 0; hop < 10; hop++) {
            HttpRequest.Builder b = request(current);
            if (rangeStart > 0) {
                b.header("Range", "bytes=" + rangeStart + "-");
            }
            HttpResponse<InputStream> response;
            try {
                response = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("download interrupted");
            } catch (IOException e) {
                throw new HttpTimeoutOrReset("cannot connect (" + describe(e) + ")");
            }
            int status = response.statusCode();
            if (status < 300 || status >= 400 || status == 304) {
                return response;
            }
            response.body().close();
            String location = response.headers().firstValue("Location")
                    .orElseThrow(() -> new IOException(file + ": redirect without a Location"));
            current = current.resolve(location);
        }
        throw new IOException(file + ": too many redirects");
    }

    private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler, RepoRef ref) {
        try {
            return http.send(request, handler);
        } catch (IOException e) {
            throw new Vl4jException(ref + ": cannot reach " + endpoint + " (" + describe(e) + "); check the network or HF_ENDPOINT,"
                    + " or set HF_HUB_OFFLINE=1 to use only the cache", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Vl4jException(ref + ": download interrupted", e);
        }
    }

    private static String describe(IOException e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    private static String encode(String pathPart) {
        return URLEncoder.encode(pathPart, StandardCharsets.UTF_8).replace("+", "%20").replace("%2F", "/");
    }

    private static void writeAtomically(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** A transfer that failed in a way worth retrying: a dropped connection, a timeout, a 5xx or 429. */
    private static final class RetryableException extends IOException {
        RetryableException(String message) {
            super(message);
        }
    }

    private static final class HttpTimeoutOrReset extends IOException {
        HttpTimeoutOrReset(String message) {
            super(message);
        }
    }
}
