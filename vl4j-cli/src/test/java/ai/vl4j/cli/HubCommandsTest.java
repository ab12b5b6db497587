package ai.vl4j.cli;

import static ai.vl4j.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.hub.FakeHub;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * pull, list, rm and run-by-id against a fake Hugging Face hub on loopback serving the tiny 1.3B fixture, with
 * the environment (HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE) given to the command as a user's shell would.
 */
class HubCommandsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String DEFAULT_MODEL = "deepseek-ai/deepseek-vl-1.3b-chat";

    @TempDir
    Path home;
    FakeHub hub;
    Map<String, String> env = new HashMap<>();

    record Result(int code, String out, String err) {
    }

    @BeforeEach
    void start() {
        hub = new FakeHub(Fixtures.TINY_13B_MODEL, DEFAULT_MODEL);
        env.put("HF_HOME", home.toString());
        env.put("HF_ENDPOINT", hub.endpoint().toString());
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    Result vl4j(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(args, InputStream.nullInputStream(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), env);
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    Path snapshot() {
        return home.resolve("hub/models--deepseek-ai--deepseek-vl-1.3b-chat/snapshots").resolve(FakeHub.COMMIT);
    }

    /** The README's quick start, word for word: the default model is pulled on first use. */
    @Test
    void quickStartPullsTheDefaultModelAndAnswers() throws IOException {
        JsonNode greedy = Fixtures.json(Fixtures.TINY_13B.resolve("expected/dog_a__en/greedy.json"));
        Path example = Path.of(System.getProperty("vl4j.testdata")).resolveSibling("examples/dog_a.png");
        Result r = vl4j("run", "--image", example.toString(), "Describe this image.", "--json",
                "--max-new-tokens", Integer.toString(greedy.get("new_tokens").size()));
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(ints(greedy.get("new_tokens")), ints(JSON.readTree(r.out()).get("completion_token_ids")));
        assertTrue(r.err().contains("pulling " + DEFAULT_MODEL + " (7 files)"), r.err());
        assertTrue(Files.isSymbolicLink(snapshot().resolve("model.safetensors")));
    }

    @Test
    void pullListRunOfflineRemove() throws IOException {
        Result pull = vl4j("pull", DEFAULT_MODEL);
        assertEquals(0, pull.code(), pull.err());
        assertTrue(pull.out().contains(FakeHub.COMMIT), pull.out());
        assertTrue(pull.err().contains("100%"), "progress shown: " + pull.err());
        for (FakeHub.Served f : hub.files().values()) {
            assertArrayEquals(f.bytes(), Files.readAllBytes(snapshot().resolve(f.name())), f.name());
        }

        Result list = vl4j("list");
        assertEquals(0, list.code(), list.err());
        assertTrue(list.out().contains(DEFAULT_MODEL) && list.out().contains("main"), list.out());
        JsonNode rows = JSON.readTree(vl4j("list", "--json").out());
        assertEquals(hub.totalBytes(), rows.get(0).get("bytes").asLong());
        assertTrue(rows.get(0).get("snapshots").get(0).get("complete").asBoolean());

        env.put("HF_HUB_OFFLINE", "1");
        hub.requests.clear();
        Result run = vl4j("run", "-m", DEFAULT_MODEL, "Hello", "--max-new-tokens", "3", "--json");
        assertEquals(0, run.code(), run.err());
        assertEquals(3, JSON.readTree(run.out()).get("completion_tokens").asInt());
        assertTrue(hub.requests.isEmpty(), "offline: no request " + hub.requests);
        Result offlinePull = vl4j("pull", DEFAULT_MODEL);
        assertEquals(1, offlinePull.code());
        assertTrue(offlinePull.err().contains("HF_HUB_OFFLINE"), offlinePull.err());

        Result rm = vl4j("rm", DEFAULT_MODEL);
        assertEquals(0, rm.code(), rm.err());
        assertTrue(rm.out().contains("deleted " + DEFAULT_MODEL), rm.out());
        assertFalse(Files.exists(snapshot()));
        assertTrue(vl4j("list").out().startsWith("no models"));
        Result again = vl4j("rm", DEFAULT_MODEL);
        assertEquals(2, again.code());
        assertTrue(again.err().contains("not in the cache"), again.err());

        Result offlineRun = vl4j("run", "-m", DEFAULT_MODEL, "Hello");
        assertEquals(1, offlineRun.code());
        assertTrue(offlineRun.err().contains("not in the Hugging Face cache") && offlineRun.err().contains("vl4j pull"), offlineRun.err());
    }

    @Test
    void pullRepairsACorruptCacheAndQuietIsSilent() throws IOException {
        assertEquals(0, vl4j("pull", "--quiet", DEFAULT_MODEL).code());
        Path blob = snapshot().resolve("model.safetensors").toRealPath();
        byte[] bytes = Files.readAllBytes(blob);
        bytes[bytes.length - 1] ^= 1;
        Files.write(blob, bytes);

        Result repair = vl4j("pull", DEFAULT_MODEL);
        assertEquals(0, repair.code(), repair.err());
        assertTrue(repair.err().contains("model.safetensors: the cached copy is corrupt"), repair.err());
        assertArrayEquals(hub.files().get("model.safetensors").bytes(), Files.readAllBytes(snapshot().resolve("model.safetensors")));

        Result quiet = vl4j("pull", "-q", DEFAULT_MODEL);
        assertEquals(0, quiet.code(), quiet.err());
        assertEquals("", quiet.err());
    }

    @Test
    void hubErrorsAreOneLine() {
        Result missing = vl4j("pull", "deepseek-ai/no-such-model");
        assertEquals(2, missing.code());
        assertEquals(1, missing.err().strip().lines().count(), missing.err());
        assertTrue(missing.err().contains("no such model"), missing.err());

        hub.gated = true;
        Result gated = vl4j("pull", DEFAULT_MODEL);
        assertEquals(1, gated.code(), gated.err());
        assertTrue(gated.err().contains("gated") && gated.err().contains("HF_TOKEN"), gated.err());

        hub.gated = false;
        hub.requiredToken = "hf_right";
        env.put("HF_TOKEN", "hf_wrong");
        Result denied = vl4j("pull", DEFAULT_MODEL);   // the hub answers 401 RepoNotFound: it does not reveal private repos
        assertEquals(2, denied.code(), denied.err());
        assertTrue(denied.err().contains("401") && denied.err().contains("HF_TOKEN"), denied.err());
        env.put("HF_TOKEN", "hf_right");
        assertEquals(0, vl4j("pull", DEFAULT_MODEL).code());

        Result badId = vl4j("pull", "not an id");
        assertEquals(2, badId.code());
        assertTrue(badId.err().contains("not a Hugging Face model id"), badId.err());
    }
}
