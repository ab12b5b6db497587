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
    private final HttpClient http;

    public HubClient(URI endpoint, String token, HfCache cache) {
        this.endpoint = endpoint;
        this.token = token;
        this.cache = cache;
        this.http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL)
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
        Path partial = repo.resolve("blobs").resolve(commit + "-" + file + ".incomplete");
        long have = Files.exists(partial) ? Files.size(partial) : 0;
        HttpRequest.Builder request = request(uri);
        if (have > 0) {
            request.header("Range", "bytes=" + have + "-");
        }
        HttpResponse<InputStream> response = send(request.build(), file);
        int status = response.statusCode();
        if (status == 416) { // the partial file is already complete
            response.body().close();
        } else {
            if (status != 200 && status != 206) {
                response.body().close();
                throw new IOException(file + ": HTTP " + status);
            }
            boolean append = status == 206;
            if (!append) {
                have = 0;
            }
            long total = response.headers().firstValueAsLong("Content-Length").orElse(-1);
            total = total < 0 ? -1 : total + have;
            try (InputStream in = response.body();
                 OutputStream out = Files.newOutputStream(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                         append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
                byte[] buf = new byte[1 << 20];
                long done = have;
                int n;
                while ((n = in.read(buf)) > 0) {
                    out.write(buf, 0, n);
                    done += n;
                    progress.update(file, done, total);
                }
            }
        }
        String etag = etag(response);
        String blobName = etag != null ? etag : commit + "-" + file.replace('/', '_');
        if (etag != null && SHA256.matcher(etag).matches()) {
            String actual = sha256(partial);
            if (!actual.equals(etag)) {
                Files.delete(partial);
                throw new IOException(file + ": checksum mismatch (expected sha256 " + etag + ", got " + actual + "); the partial file was removed, run again");
            }
        }
        Path blob = repo.resolve("blobs").resolve(blobName);
        Files.move(partial, blob, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Path link = snapshot.resolve(file);
        try {
            Files.createSymbolicLink(link, link.getParent().relativize(blob));
        } catch (UnsupportedOperationException | IOException e) {
            Files.copy(blob, link, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The hub's id of a file's content: X-Linked-Etag for LFS files (their SHA-256), else ETag. */
    private static String etag(HttpResponse<?> response) {
        String v = response.headers().firstValue("X-Linked-Etag").or(() -> response.headers().firstValue("ETag")).orElse(null);
        if (v == null) {
            return null;
        }
        v = v.replace("W/", "").replace("\"", "").trim();
        return v.isEmpty() || v.contains("/") ? null : v;
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

    private HttpResponse<InputStream> send(HttpRequest request, String what) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new Vl4jException(what + ": cannot reach " + endpoint + " (" + e.getMessage() + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Vl4jException(what + ": download interrupted", e);
        }
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
