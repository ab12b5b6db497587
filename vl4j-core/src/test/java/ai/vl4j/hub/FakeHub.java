package ai.vl4j.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * An in-process Hugging Face hub on loopback serving one model folder as repository {@code REPO}, with the
 * real hub's answers: {@code /api/models/REPO/revision/REV} (commit and file list), HEAD and GET on
 * {@code /REPO/resolve/REV/FILE} (small files with their git blob id as ETag; .safetensors as LFS files: a 302
 * to a second "CDN" origin carrying X-Linked-Etag (SHA-256) and X-Linked-Size), range requests with
 * Content-Range on the CDN, and the X-Error-Code headers of its 401/403/404 answers. Faults can be injected:
 * a connection dropped mid-file, a corrupted transfer, a gated or private repository.
 */
public final class FakeHub implements AutoCloseable {
    public static final String REPO = "deepseek-ai/tiny-vl";
    public static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    /** A file served: its bytes and the id the hub gives it. */
    public record Served(String name, byte[] bytes, String etag, boolean lfs) {
    }

    private final String repo;
    private final HttpServer hub;
    private final HttpServer cdn;
    private final Map<String, Served> files = new LinkedHashMap<>();
    public final List<String> requests = new CopyOnWriteArrayList<>();

    /** Fault injection, all off by default. */
    public volatile String dropFile;          // the next GET of this file is cut after dropAfter bytes
    public volatile int dropAfter;
    public volatile boolean stallInsteadOfDrop;                          // hang the transfer instead of closing it
    private final List<HttpExchange> stalled = new CopyOnWriteArrayList<>();
    public final AtomicInteger corruptTransfers = new AtomicInteger();   // this many LFS transfers get one bit flipped
    public volatile String requiredToken;     // set: the repo is private, served only with this bearer token
    public volatile boolean gated;            // 403 GatedRepo on every file

    /** Serves modelFolder as {@link #REPO}. */
    public FakeHub(Path modelFolder) {
        this(modelFolder, REPO);
    }

    /** Serves modelFolder as repository repo. */
    public FakeHub(Path modelFolder, String repo) {
        this.repo = repo;
        try (Stream<Path> list = Files.list(modelFolder)) {
            for (Path p : list.sorted().toList()) {
                String name = p.getFileName().toString();
                byte[] bytes = Files.readAllBytes(p);
                boolean lfs = name.endsWith(".safetensors");
                files.put(name, new Served(name, bytes, lfs ? digest("SHA-256", bytes) : Checksums.gitBlobId(bytes), lfs));
            }
            hub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            cdn = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        hub.createContext("/", this::handleHub);
        cdn.createContext("/", this::handleCdn);
        hub.start();
        cdn.start();
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + hub.getAddress().getPort());
    }

    public Map<String, Served> files() {
        return files;
    }

    public long totalBytes() {
        return files.values().stream().mapToLong(f -> f.bytes().length).sum();
    }

    @Override
    public void close() {
        stalled.forEach(HttpExchange::close);
        hub.stop(0);
        cdn.stop(0);
    }

    private void log(HttpExchange ex, String origin) {
        String range = ex.getRequestHeaders().getFirst("Range");
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        requests.add(origin + " " + ex.getRequestMethod() + " " + ex.getRequestURI().getPath()
                + (range == null ? "" : " " + range) + (auth == null ? "" : " auth=" + auth));
    }

    private void handleHub(HttpExchange ex) throws IOException {
        log(ex, "hub");
        String path = ex.getRequestURI().getPath();
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (requiredToken != null && !("Bearer " + requiredToken).equals(auth)) {
            // the real hub does not reveal whether a private repository exists
            error(ex, 401, "RepoNotFound", "Repository not found");
            return;
        }
        String api = "/api/models/" + repo + "/revision/";
        if (path.startsWith(api)) {
            String rev = path.substring(api.length());
            if (!rev.equals("main") && !rev.equals(COMMIT)) {
                error(ex, 404, "RevisionNotFound", "Invalid rev id: " + rev);
                return;
            }
            List<String> siblings = new ArrayList<>();
            for (String name : files.keySet()) {
                siblings.add("{\"rfilename\": \"" + name + "\"}");
            }
            siblings.add("{\"rfilename\": \"README.md\"}");
            siblings.add("{\"rfilename\": \"images/example.png\"}");
            send(ex, 200, ("{\"id\": \"" + repo + "\", \"sha\": \"" + COMMIT + "\", \"siblings\": [" + String.join(", ", siblings) + "]}")
                    .getBytes(StandardCharsets.UTF_8), "application/json");
            return;
        }
        String resolve = "/" + repo + "/resolve/";
        if (!path.startsWith(resolve)) {
            error(ex, 404, "RepoNotFound", "Repository not found");
            return;
        }
        String rest = path.substring(resolve.length());
        int slash = rest.indexOf('/');
        String rev = rest.substring(0, slash);
        Served f = files.get(rest.substring(slash + 1));
        if (!rev.equals("main") && !rev.equals(COMMIT)) {
            error(ex, 404, "RevisionNotFound", "Invalid rev id: " + rev);
            return;
        }
        if (f == null) {
            error(ex, 404, "EntryNotFound", "Entry not found");
            return;
        }
        if (gated) {
            error(ex, 403, "GatedRepo", "Access to model " + repo + " is restricted and you are not in the authorized list.");
            return;
        }
        ex.getResponseHeaders().add("X-Repo-Commit", COMMIT);
        if (f.lfs()) {
            ex.getResponseHeaders().add("X-Linked-Etag", "\"" + f.etag() + "\"");
            ex.getResponseHeaders().add("X-Linked-Size", Long.toString(f.bytes().length));
            ex.getResponseHeaders().add("ETag", "\"" + f.etag() + "\"");
            ex.getResponseHeaders().add("Location", "http://127.0.0.1:" + cdn.getAddress().getPort() + "/blobs/" + f.name() + "?signed=1");
            send(ex, 302, new byte[0], null);
            return;
        }
        ex.getResponseHeaders().add("ETag", "\"" + f.etag() + "\"");
        serveRange(ex, f, false);
    }

    private void handleCdn(HttpExchange ex) throws IOException {
        log(ex, "cdn");
        String path = ex.getRequestURI().getPath();
        Served f = path.startsWith("/blobs/") ? files.get(path.substring("/blobs/".length())) : null;
        if (f == null) {
            send(ex, 404, "NoSuchKey".getBytes(StandardCharsets.UTF_8), "text/plain");
            return;
        }
        if (ex.getRequestHeaders().getFirst("Authorization") != null) {
            send(ex, 400, "Only one auth mechanism allowed".getBytes(StandardCharsets.UTF_8), "text/plain");
            return;
        }
        ex.getResponseHeaders().add("ETag", "\"" + digest("MD5", f.bytes()) + "\"");
        serveRange(ex, f, true);
    }

    private void serveRange(HttpExchange ex, Served f, boolean mayCorrupt) throws IOException {
        byte[] body = f.bytes();
        int from = 0;
        String range = ex.getRequestHeaders().getFirst("Range");
        ex.getResponseHeaders().add("Accept-Ranges", "bytes");
        if (range != null && range.matches("bytes=\\d+-")) {
            from = Integer.parseInt(range.substring(6, range.length() - 1));
            if (from >= body.length) {
                ex.getResponseHeaders().add("Content-Range", "bytes */" + body.length);
                send(ex, 416, new byte[0], null);
                return;
            }
            ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (body.length - 1) + "/" + body.length);
        }
        int status = from > 0 ? 206 : 200;
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.getResponseHeaders().add("Content-Length", Integer.toString(body.length - from));
            ex.sendResponseHeaders(status, -1);
            ex.close();
            return;
        }
        byte[] part = java.util.Arrays.copyOfRange(body, from, body.length);
        if (mayCorrupt && corruptTransfers.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            part[part.length / 2] ^= 0x10;
        }
        ex.sendResponseHeaders(status, part.length);
        OutputStream out = ex.getResponseBody();
        if (f.name().equals(dropFile) && dropAfter < part.length) {
            dropFile = null;
            out.write(part, 0, dropAfter);
            out.flush();
            if (stallInsteadOfDrop) {   // the link goes quiet: the connection stays open, no more bytes come
                stalled.add(ex);
                return;
            }
            // the server closes the connection on a handler's IOException: the client sees fewer bytes than announced
            throw new IOException("simulated dropped connection");
        }
        out.write(part);
        out.close();
    }

    private static void error(HttpExchange ex, int status, String code, String message) throws IOException {
        ex.getResponseHeaders().add("X-Error-Code", code);
        ex.getResponseHeaders().add("X-Error-Message", message);
        send(ex, status, ("{\"error\": \"" + message + "\"}").getBytes(StandardCharsets.UTF_8), "application/json");
    }

    private static void send(HttpExchange ex, int status, byte[] body, String type) throws IOException {
        if (type != null) {
            ex.getResponseHeaders().add("Content-Type", type);
        }
        if (ex.getRequestMethod().equals("HEAD") || body.length == 0) {
            ex.sendResponseHeaders(status, -1);
            ex.close();
            return;
        }
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    static String digest(String algorithm, byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
