package ai.vl4j.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.InvalidInputException;
import ai.vl4j.Vl4jException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pulls the tiny fixture model from a fake hub on loopback: the HF cache layout, parallel files, resumed
 * transfers, checksums (corrupt transfers and corrupt cached blobs fetched again), the hub's error answers,
 * offline mode, listing and deleting.
 */
class HubClientTest {
    static final String REPO = FakeHub.REPO;
    static final String COMMIT = FakeHub.COMMIT;

    @TempDir
    Path dir;
    FakeHub hub;

    /** Records what a pull reports. */
    static final class Recorder implements HubClient.Listener {
        final Map<String, Long> done = new ConcurrentHashMap<>();
        final List<String> notes = new CopyOnWriteArrayList<>();
        volatile List<HubClient.RemoteFile> plan;

        @Override
        public void plan(List<HubClient.RemoteFile> files) {
            plan = files;
        }

        @Override
        public void transferred(String file, long bytes, long total) {
            done.put(file, bytes);
        }

        @Override
        public void note(String message) {
            notes.add(message);
        }
    }

    @BeforeEach
    void start() {
        hub = new FakeHub(Fixtures.TINY_13B_MODEL);
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    HubClient client() {
        return client(null, false);
    }

    HubClient client(String token, boolean offline) {
        return new HubClient(hub.endpoint(), token, new HfCache(dir.resolve("hub")), offline).withRetries(4, 4, Duration.ofMillis(10));
    }

    Path repoDir() {
        return dir.resolve("hub/models--deepseek-ai--tiny-vl");
    }

    void assertSameAsFixture(Path snapshot) throws IOException {
        for (FakeHub.Served f : hub.files().values()) {
            assertArrayEquals(f.bytes(), Files.readAllBytes(snapshot.resolve(f.name())), f.name());
        }
    }

    @Test
    void freshPullFillsTheHfCacheLayout() throws IOException {
        Recorder rec = new Recorder();
        Path snapshot = client().pull(RepoRef.parse(REPO), true, rec);
        assertEquals(repoDir().resolve("snapshots").resolve(COMMIT), snapshot);
        assertEquals(COMMIT, Files.readString(repoDir().resolve("refs/main")));
        assertSameAsFixture(snapshot);
        for (FakeHub.Served f : hub.files().values()) {
            Path link = snapshot.resolve(f.name());
            assertTrue(Files.isSymbolicLink(link), f.name());
            assertEquals(Path.of("../../blobs").resolve(f.etag()), Files.readSymbolicLink(link), "relative link, as huggingface_hub makes");
        }
        assertFalse(Files.exists(snapshot.resolve("README.md")), "only the files a model needs");
        assertEquals(hub.files().size(), rec.plan.size());
        assertEquals(hub.totalBytes(), rec.plan.stream().mapToLong(HubClient.RemoteFile::size).sum(), "sizes known before transfer");
        assertEquals(hub.totalBytes(), rec.done.values().stream().mapToLong(Long::longValue).sum());
        try (Stream<Path> blobs = Files.list(repoDir().resolve("blobs"))) {
            assertTrue(blobs.noneMatch(p -> p.toString().endsWith(".incomplete")));
        }
        assertTrue(HfCache.isComplete(snapshot));

        // the id now resolves from the cache without a single request
        hub.requests.clear();
        assertEquals(snapshot, new ModelResolver(client()).resolve(REPO, HubClient.SILENT));
        assertTrue(hub.requests.isEmpty(), hub.requests.toString());
    }

    @Test
    void tokenGoesToTheHubButNeverToTheCdn() {
        hub.requiredToken = "secret";
        client("secret", false).pull(RepoRef.parse(REPO), false, HubClient.SILENT);
        assertTrue(hub.requests.contains("hub GET /api/models/" + REPO + "/revision/main auth=Bearer secret"), hub.requests.toString());
        assertTrue(hub.requests.stream().anyMatch(r -> r.startsWith("cdn GET /blobs/model.safetensors") && !r.contains("auth")), hub.requests.toString());
    }

    @Test
    void droppedConnectionResumesWhereItStopped() throws IOException {
        hub.dropFile = "model.safetensors";
        hub.dropAfter = 5_000_000;
        Recorder rec = new Recorder();
        Path snapshot = client().pull(RepoRef.parse(REPO), false, rec);
        assertTrue(hub.requests.stream().anyMatch(r -> r.matches("cdn GET /blobs/model.safetensors bytes=\\d+-")), hub.requests.toString());
        assertTrue(rec.notes.stream().anyMatch(n -> n.contains("resuming")), rec.notes.toString());
        assertSameAsFixture(snapshot);
    }

    @Test
    void stalledTransferIsAbandonedAndResumed() throws IOException {
        hub.dropFile = "model.safetensors";
        hub.dropAfter = 3_000_000;
        hub.stallInsteadOfDrop = true;
        Recorder rec = new Recorder();
        Path snapshot = client().withStallTimeout(Duration.ofMillis(700)).pull(RepoRef.parse(REPO), false, rec);
        assertTrue(hub.requests.stream().anyMatch(r -> r.matches("cdn GET /blobs/model.safetensors bytes=\\d+-")), hub.requests.toString());
        assertTrue(rec.notes.stream().anyMatch(n -> n.contains("no data")), rec.notes.toString());
        assertSameAsFixture(snapshot);
    }

    @Test
    void partialFileOfAnEarlierRunIsContinued() throws IOException {
        FakeHub.Served weights = hub.files().get("model.safetensors");
        Path blobs = Files.createDirectories(repoDir().resolve("blobs"));
        Files.write(blobs.resolve(weights.etag() + ".incomplete"), Arrays.copyOf(weights.bytes(), 1_000_000));
        Path snapshot = client().pull(RepoRef.parse(REPO), false, HubClient.SILENT);
        assertTrue(hub.requests.contains("cdn GET /blobs/model.safetensors bytes=1000000-"), hub.requests.toString());
        assertSameAsFixture(snapshot);
    }

    @Test
    void corruptTransferIsFetchedAgain() throws IOException {
        hub.corruptTransfers.set(1);
        Recorder rec = new Recorder();
        Path snapshot = client().pull(RepoRef.parse(REPO), false, rec);
        assertTrue(rec.notes.stream().anyMatch(n -> n.contains("checksum mismatch")), rec.notes.toString());
        assertSameAsFixture(snapshot);
    }

    @Test
    void persistentlyCorruptTransferFailsAndLeavesNothingBehind() throws IOException {
        hub.corruptTransfers.set(100);
        Vl4jException e = assertThrows(Vl4jException.class, () -> client().pull(RepoRef.parse(REPO), false, HubClient.SILENT));
        assertTrue(e.getMessage().contains("model.safetensors: checksum mismatch twice"), e.getMessage());
        assertFalse(Files.exists(repoDir().resolve("snapshots").resolve(COMMIT).resolve("model.safetensors")));
        assertFalse(Files.exists(repoDir().resolve("refs/main")), "an incomplete pull writes no ref");
        try (Stream<Path> blobs = Files.list(repoDir().resolve("blobs"))) {
            assertTrue(blobs.noneMatch(p -> p.getFileName().toString().startsWith(hub.files().get("model.safetensors").etag())));
        }
        assertThrows(Vl4jException.class, () -> new ModelResolver(client(null, true)).resolve(REPO, HubClient.SILENT),
                "nothing usable is in the cache");
    }

    @Test
    void corruptCachedBlobIsDetectedAndFetchedAgainByPull() throws IOException {
        Path snapshot = client().pull(RepoRef.parse(REPO), false, HubClient.SILENT);
        Path blob = repoDir().resolve("blobs").resolve(hub.files().get("model.safetensors").etag());
        byte[] bytes = Files.readAllBytes(blob);
        bytes[12345] ^= 1;
        Files.write(blob, bytes);
        Path configBlob = repoDir().resolve("blobs").resolve(hub.files().get("config.json").etag());
        Files.writeString(configBlob, "{}");

        Recorder rec = new Recorder();
        hub.requests.clear();
        client().pull(RepoRef.parse(REPO), true, rec);
        assertEquals(2, rec.notes.stream().filter(n -> n.contains("corrupt")).count(), rec.notes.toString());
        assertSameAsFixture(snapshot);
        assertTrue(hub.requests.stream().noneMatch(r -> r.contains("GET") && r.contains("tokenizer.json")), "good blobs are kept");
    }

    @Test
    void hubErrorsSayWhatToDo() {
        InvalidInputException missing = assertThrows(InvalidInputException.class,
                () -> client().pull(RepoRef.parse("deepseek-ai/nope"), false, HubClient.SILENT));
        assertTrue(missing.getMessage().contains("no such model"), missing.getMessage());

        InvalidInputException revision = assertThrows(InvalidInputException.class,
                () -> client().pull(RepoRef.parse(REPO + "@v9"), false, HubClient.SILENT));
        assertTrue(revision.getMessage().contains("no such revision"), revision.getMessage());

        hub.requiredToken = "secret";
        Vl4jException unauthorized = assertThrows(Vl4jException.class, () -> client().pull(RepoRef.parse(REPO), false, HubClient.SILENT));
        assertTrue(unauthorized.getMessage().contains("HTTP 401") && unauthorized.getMessage().contains("HF_TOKEN"), unauthorized.getMessage());

        hub.requiredToken = null;
        hub.gated = true;
        Vl4jException gated = assertThrows(Vl4jException.class, () -> client().pull(RepoRef.parse(REPO), false, HubClient.SILENT));
        assertTrue(gated.getMessage().contains("gated") && gated.getMessage().contains("HF_TOKEN") && gated.getMessage().contains("403"),
                gated.getMessage());
    }

    @Test
    void revisionsAreCommitsOrRefs() throws IOException {
        Path snapshot = client().pull(RepoRef.parse(REPO + "@" + COMMIT), false, HubClient.SILENT);
        assertEquals(COMMIT, snapshot.getFileName().toString());
        assertFalse(Files.exists(repoDir().resolve("refs").resolve(COMMIT)), "a commit needs no ref file");
        assertEquals(snapshot, new ModelResolver(client(null, true)).resolve(REPO + "@" + COMMIT, HubClient.SILENT));
        assertThrows(InvalidInputException.class, () -> RepoRef.parse("deepseek-ai/x@../../etc"));
        assertThrows(InvalidInputException.class, () -> RepoRef.parse("no-slash"));
    }

    @Test
    void offlineModeUsesOnlyTheCache() {
        Vl4jException missing = assertThrows(Vl4jException.class,
                () -> new ModelResolver(client(null, true)).resolve(REPO, HubClient.SILENT));
        assertTrue(missing.getMessage().contains("HF_HUB_OFFLINE"), missing.getMessage());
        assertTrue(hub.requests.isEmpty(), hub.requests.toString());

        Path snapshot = client().pull(RepoRef.parse(REPO), false, HubClient.SILENT);
        hub.requests.clear();
        assertEquals(snapshot, new ModelResolver(client(null, true)).resolve(REPO, HubClient.SILENT));
        assertTrue(hub.requests.isEmpty(), hub.requests.toString());
        assertTrue(HubClient.isTrue("1") && HubClient.isTrue("TRUE") && !HubClient.isTrue("0") && !HubClient.isTrue(null));
    }

    @Test
    void incompleteSnapshotIsCompletedOnNextUse() throws IOException {
        Path snapshot = client().pull(RepoRef.parse(REPO), false, HubClient.SILENT);
        Files.delete(snapshot.resolve("tokenizer.json"));
        assertFalse(HfCache.isComplete(snapshot));
        hub.requests.clear();
        assertEquals(snapshot, new ModelResolver(client()).resolve(REPO, HubClient.SILENT));
        assertSameAsFixture(snapshot);
        assertTrue(hub.requests.stream().noneMatch(r -> r.contains("GET /blobs/model.safetensors")), "the weights were not fetched again");
    }

    @Test
    void listAndRemove() {
        HfCache cache = new HfCache(dir.resolve("hub"));
        assertTrue(cache.models().isEmpty());
        client().pull(RepoRef.parse(REPO), false, HubClient.SILENT);
        List<HfCache.CachedModel> models = cache.models();
        assertEquals(1, models.size());
        HfCache.CachedModel m = models.getFirst();
        assertEquals(REPO, m.repoId());
        assertEquals(hub.totalBytes(), m.bytes(), "blobs counted once, links not followed");
        assertEquals(List.of(new HfCache.Snapshot(COMMIT, List.of("main"), repoDir().resolve("snapshots").resolve(COMMIT), true)),
                m.snapshots());
        assertNotNull(cache.find(REPO));
        assertEquals(hub.totalBytes(), cache.remove(REPO));
        assertFalse(Files.exists(repoDir()));
        assertEquals(-1, cache.remove(REPO));
        assertTrue(cache.models().isEmpty());
    }

    @Test
    void badModelArguments() {
        InvalidInputException bad = assertThrows(InvalidInputException.class,
                () -> new ModelResolver(client()).resolve("./missing-folder", HubClient.SILENT));
        assertTrue(bad.getMessage().contains("model folder not found"), bad.getMessage());
    }

    @Test
    void cacheRootFollowsTheEnvironment() {
        assertEquals(Path.of("/x/hub"), HfCache.defaultRoot(Map.of("HF_HOME", "/x"), "/home/u"));
        assertEquals(Path.of("/y"), HfCache.defaultRoot(Map.of("HF_HUB_CACHE", "/y", "HF_HOME", "/x"), "/home/u"));
        assertEquals(Path.of("/home/u/.cache/huggingface/hub"), HfCache.defaultRoot(Map.of(), "/home/u"));
    }
}
