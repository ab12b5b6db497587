package ai.vl4j.hub;

import ai.vl4j.Vl4jException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Downloads a model repository from a Hugging Face hub into the {@link HfCache}: the files vl4j needs
 * (configs, tokenizer, safetensors), each written to {@code blobs/ETAG.incomplete} first, resumed with an HTTP
 * range request when a previous download was cut off, checked against the hub's SHA-256 for LFS files, then
 * moved into place and linked from the snapshot folder. A failure never leaves a partial file under a final name.
 */
public final class HubClient {
    /** What a download reports as it goes: file name, bytes done, bytes in total (-1 if unknown). */
    @FunctionalInterface
    public interface Progress {
        void update(String file, long done, long total);
    }

    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI endpoint;
    private final String token;
    private final HfCache cache;
    private final HttpClient http;        // follows redirects to the CDN
    private final HttpClient headClient;  // does not: the hub's own headers carry the checksum

    public HubClient(URI endpoint, String token, HfCache cache) {
        this.endpoint = endpoint;
        this.token = token;
        this.cache = cache;
        this.http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(30)).build();
        this.headClient = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(30)).build();
    }

    /** HF_ENDPOINT (default https://huggingface.co), HF_TOKEN, and the environment's cache. */
    public static HubClient fromEnvironment() {
        String endpoint = Optional.ofNullable(System.getenv("HF_ENDPOINT")).filter(s -> !s.isBlank()).orElse("https://huggingface.co");
        return new HubClient(URI.create(endpoint.replaceAll("/+$", "")), System.getenv("HF_TOKEN"), HfCache.fromEnvironment());
    }

    public HfCache cache() {
        return cache;
    }

    /** True for files a DeepSeek-VL model folder needs. */
    static boolean wanted(String file) {
        return !file.contains("/") && (file.endsWith(".json") || file.endsWith(".safetensors"));
    }

    /** Downloads (or completes) repoId at revision and returns its snapshot folder. */
    public Path download(String repoId, String revision, Progress progress) {
        JsonNode info = getJson(endpoint + "/api/models/" + repoId + "/revision/" + encode(revision), repoId);
        String commit = info.path("sha").asText("");
        if (commit.isEmpty()) {
            throw new Vl4jException(repoId + ": the hub's answer names no commit");
        }
        List<String> files = new ArrayList<>();
        info.path("siblings").forEach(s -> {
            String name = s.path("rfilename").asText();
            if (wanted(name)) {
                files.add(name);
            }
        });
        if (files.stream().noneMatch(f -> f.endsWith(".safetensors"))) {
            throw new Vl4jException(repoId + ": the repository has no .safetensors weights");
        }
        Path repo = cache.repoDir(repoId);
        Path snapshot = repo.resolve("snapshots").resolve(commit);
        try {
            Files.createDirectories(repo.resolve("blobs"));
            Files.createDirectories(snapshot);
            for (String file : files) {
                if (!Files.exists(snapshot.resolve(file))) {
                    fetch(repoId, commit, file, repo, snapshot, progress);
                }
            }
            Path ref = repo.resolve("refs").resolve(revision);
            Files.createDirectories(ref.getParent());
            Files.writeString(ref, commit);
        } catch (IOException e) {
            throw new Vl4jException(repoId + ": download failed (" + e.getMessage() + ")", e);
        }
        return snapshot;
    }

    private void fetch(String repoId, String commit, String file, Path repo, Path snapshot, Progress progress) throws IOException {
        URI uri = URI.create(endpoint + "/" + repoId + "/resolve/" + commit + "/" + encode(file));
        // The hub names a file's content in the headers of its own answer, before any redirect to a CDN:
        // X-Linked-Etag is the SHA-256 of an LFS file, ETag the git id of a small one.
        HttpResponse<Void> head = sendHead(uri, file);
        if (head.statusCode() >= 400) {
            throw new IOException(file + ": HTTP " + head.statusCode());
        }
        String etag = etag(head);
        String blobName = etag != null ? etag : commit + "-" + file;
        Path blob = repo.resolve("blobs").resolve(blobName);
        if (!Files.isRegularFile(blob)) {
            Path partial = repo.resolve("blobs").resolve(blobName + ".incomplete");
            downloadTo(uri, file, partial, progress);
            if (etag != null && SHA256.matcher(etag).matches()) {
                String actual = sha256(partial);
                if (!actual.equals(etag)) {
                    Files.delete(partial);
                    throw new IOException(file + ": checksum mismatch (expected sha256 " + etag + ", got " + actual
                            + "); the partial file was removed, run again");
                }
            }
            Files.move(partial, blob, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        Path link = snapshot.resolve(file);
        try {
            Files.createSymbolicLink(link, link.getParent().relativize(blob));
        } catch (UnsupportedOperationException | IOException e) {
            Files.copy(blob, link, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** GETs uri into partial, continuing with a range request where an earlier attempt stopped. */
    private void downloadTo(URI uri, String file, Path partial, Progress progress) throws IOException {
        long have = Files.exists(partial) ? Files.size(partial) : 0;
        HttpResponse<InputStream> response = getFollowingRedirects(uri, have, file);
        int status = response.statusCode();
        if (status == 416) { // nothing left to fetch: the partial file is complete
            response.body().close();
            return;
        }
        if (status != 200 && status != 206) {
            response.body().close();
            throw new IOException(file + ": HTTP " + status);
        }
        boolean append = status == 206;
        long done = append ? have : 0;
        long length = response.headers().firstValueAsLong("Content-Length").orElse(-1);
        long total = length < 0 ? -1 : length + done;
        try (InputStream in = response.body();
             OutputStream out = Files.newOutputStream(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                     append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            byte[] buf = new byte[1 << 20];
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
                done += n;
                progress.update(file, done, total);
            }
        }
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

    private JsonNode getJson(String url, String repoId) {
        HttpResponse<InputStream> response = send(request(URI.create(url)).build(), repoId);
        try (InputStream in = response.body()) {
            if (response.statusCode() == 401 || response.statusCode() == 403) {
                throw new Vl4jException(repoId + ": access denied by the hub (HTTP " + response.statusCode() + "); set HF_TOKEN for gated or private models");
            }
            if (response.statusCode() == 404) {
                throw new Vl4jException(repoId + ": no such model on " + endpoint);
            }
            if (response.statusCode() != 200) {
                throw new Vl4jException(repoId + ": the hub answered HTTP " + response.statusCode());
            }
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new Vl4jException(repoId + ": cannot read the hub's answer (" + e.getMessage() + ")", e);
        }
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).header("User-Agent", "vl4j");
        if (token != null && !token.isBlank()) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    /**
     * GET with redirects followed here rather than by the client, so the hub token is never sent to another
     * host (CDN links are pre-signed and reject a second credential).
     */
    private HttpResponse<InputStream> getFollowingRedirects(URI uri, long rangeStart, String file) throws IOException {
        URI current = uri;
        for (int hop = 0; hop < 10; hop++) {
            HttpRequest.Builder b = current.getHost() != null && current.getHost().equals(endpoint.getHost())
                    && current.getPort() == endpoint.getPort() ? request(current) : HttpRequest.newBuilder(current).header("User-Agent", "vl4j");
            if (rangeStart > 0) {
                b.header("Range", "bytes=" + rangeStart + "-");
            }
            HttpResponse<InputStream> response;
            try {
                response = headClient.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("download interrupted", e);
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

    private HttpResponse<Void> sendHead(URI uri, String what) {
        try {
            return headClient.send(request(uri).method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.discarding());
        } catch (IOException e) {
            throw new Vl4jException(what + ": cannot reach " + endpoint + " (" + describe(e) + "); check the network or HF_ENDPOINT", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Vl4jException(what + ": download interrupted", e);
        }
    }

    private HttpResponse<InputStream> send(HttpRequest request, String what) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new Vl4jException(what + ": cannot reach " + endpoint + " (" + describe(e) + "); check the network or HF_ENDPOINT", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Vl4jException(what + ": download interrupted", e);
        }
    }

    private static String describe(IOException e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    private static String encode(String pathPart) {
        return URLEncoder.encode(pathPart, StandardCharsets.UTF_8).replace("+", "%20").replace("%2F", "/");
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
