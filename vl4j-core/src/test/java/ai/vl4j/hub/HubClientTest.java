package ai.vl4j.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.InvalidInputException;
import ai.vl4j.Vl4jException;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Downloads from a fake hub on loopback: cache layout, resume with Range, checksum, cache hits. */
class HubClientTest {
    static final String REPO = "deepseek-ai/tiny-vl";
    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    @TempDir
    Path dir;
    HttpServer server;
    HttpServer cdn; // a second origin, as the real hub redirects LFS downloads to another host
    final List<String> requests = new CopyOnWriteArrayList<>();
    final byte[] weights = new byte[300_000];
    final byte[] config = "{\"a\": 1}".getBytes(StandardCharsets.UTF_8);
    String weightsSha;
    boolean corrupt;

    @BeforeEach
    void start() throws Exception {
        new Random(1).nextBytes(weights);
        weightsSha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(weights));
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
        cdn = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        cdn.createContext("/", this::handle);
        cdn.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
        cdn.stop(0);
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        String range = ex.getRequestHeaders().getFirst("Range");
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        requests.add(ex.getRequestMethod() + " " + path + (range == null ? "" : " " + range) + (auth == null ? "" : " auth=" + auth));
        byte[] body;
        int status = 200;
        if (path.equals("/api/models/" + REPO + "/revision/main")) {
            body = ("{\"sha\": \"" + COMMIT + "\", \"siblings\": [{\"rfilename\": \"config.json\"}, {\"rfilename\": \"model.safetensors\"},"
                    + " {\"rfilename\": \"README.md\"}, {\"rfilename\": \"images/x.png\"}]}").getBytes(StandardCharsets.UTF_8);
        } else if (path.equals("/" + REPO + "/resolve/" + COMMIT + "/config.json")) {
            body = config;
            ex.getResponseHeaders().add("ETag", "\"abc123\"");
        } else if (path.equals("/" + REPO + "/resolve/" + COMMIT + "/model.safetensors")) {
            // like the real hub: LFS files redirect to a CDN; the checksum is on the hub's own answer
            ex.getResponseHeaders().add("X-Linked-Etag", "\"" + weightsSha + "\"");
            ex.getResponseHeaders().add("Location", "http://127.0.0.1:" + cdn.getAddress().getPort() + "/cdn/blob-1");
            body = new byte[0];
            status = 302;
        } else if (path.equals("/cdn/blob-1")) {
            body = weights.clone();
            if (corrupt) {
                body[17] ^= 1;
            }
            ex.getResponseHeaders().add("ETag", "\"d41d8cd98f00b204e9800998ecf8427e\"");
            if (range != null) {
                int from = Integer.parseInt(range.replace("bytes=", "").replace("-", ""));
                body = java.util.Arrays.copyOfRange(body, from, body.length);
                status = 206;
            }
        } else {
            body = "not found".getBytes(StandardCharsets.UTF_8);
            status = 404;
        }
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.sendResponseHeaders(status, -1);
            ex.close();
            return;
        }
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    HubClient client() {
        return new HubClient(URI.create("http://127.0.0.1:" + server.getAddress().getPort()), null, new HfCache(dir.resolve("hub")));
    }

    @Test
    void downloadsIntoTheHfCacheLayout() throws IOException {
        List<Long> progress = new CopyOnWriteArrayList<>();
        Path snapshot = client().download(REPO, "main", (f, done, total) -> progress.add(done));
        Path repo = dir.resolve("hub/models--deepseek-ai--tiny-vl");
        assertEquals(repo.resolve("snapshots").resolve(COMMIT), snapshot);
        assertEquals(COMMIT, Files.readString(repo.resolve("refs/main")));
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertArrayEquals(config, Files.readAllBytes(snapshot.resolve("config.json")));
        assertTrue(Files.isRegularFile(repo.resolve("blobs").resolve(weightsSha)));
        assertFalse(Files.exists(snapshot.resolve("README.md")), "only the files a model needs");
        assertEquals(weights.length, progress.getLast());

        // resolving the id again finds the cache and makes no request
        requests.clear();
        assertEquals(snapshot, new ModelResolver(client()).resolve(REPO, (f, d, t) -> { }));
        assertTrue(requests.isEmpty(), requests.toString());
    }

    @Test
    void tokenGoesToTheHubButNeverToTheCdn() {
        new HubClient(URI.create("http://127.0.0.1:" + server.getAddress().getPort()), "secret", new HfCache(dir.resolve("hub")))
                .download(REPO, "main", (f, d, t) -> { });
        assertTrue(requests.contains("GET /api/models/" + REPO + "/revision/main auth=Bearer secret"), requests.toString());
        assertTrue(requests.contains("GET /cdn/blob-1"), requests.toString());
    }

    @Test
    void resumesAnInterruptedDownload() throws IOException {
        Path blobs = Files.createDirectories(dir.resolve("hub/models--deepseek-ai--tiny-vl/blobs"));
        Files.write(blobs.resolve(weightsSha + ".incomplete"), java.util.Arrays.copyOf(weights, 100_000));
        Path snapshot = client().download(REPO, "main", (f, d, t) -> { });
        assertTrue(requests.contains("GET /cdn/blob-1 bytes=100000-"), requests.toString());
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
    }

    @Test
    void checksumMismatchLeavesNothingBehind() throws IOException {
        corrupt = true;
        Vl4jException e = assertThrows(Vl4jException.class, () -> client().download(REPO, "main", (f, d, t) -> { }));
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
        Path repo = dir.resolve("hub/models--deepseek-ai--tiny-vl");
        assertFalse(Files.exists(repo.resolve("snapshots").resolve(COMMIT).resolve("model.safetensors")));
        try (var files = Files.list(repo.resolve("blobs"))) {
            assertTrue(files.noneMatch(p -> p.toString().contains("model.safetensors")));
        }
    }

    @Test
    void unknownModelAndBadIds() {
        Vl4jException e = assertThrows(Vl4jException.class, () -> client().download("deepseek-ai/nope", "main", (f, d, t) -> { }));
        assertTrue(e.getMessage().contains("no such model"), e.getMessage());
        InvalidInputException bad = assertThrows(InvalidInputException.class,
                () -> new ModelResolver(client()).resolve("./missing-folder", (f, d, t) -> { }));
        assertTrue(bad.getMessage().contains("model folder not found"), bad.getMessage());
    }

    @Test
    void cacheRootFollowsTheEnvironment() {
        assertEquals(Path.of("/x/hub"), HfCache.defaultRoot(Map.of("HF_HOME", "/x"), "/home/u"));
        assertEquals(Path.of("/y"), HfCache.defaultRoot(Map.of("HF_HUB_CACHE", "/y", "HF_HOME", "/x"), "/home/u"));
        assertEquals(Path.of("/home/u/.cache/huggingface/hub"), HfCache.defaultRoot(Map.of(), "/home/u"));
    }
}
