package ai.vl4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Bad requests get a 4xx in OpenAI's error shape that names the problem (never a 500), and the server keeps
 * serving afterwards. Images come as data URIs and from a local HTTP server started here.
 */
class ServerErrorsTest {
    static final long BYTE_LIMIT = 150_000;          // dog_a.png (208 kB) is over it, the others under
    static TestServer server;
    static HttpServer images;
    static String imageBase;

    @BeforeAll
    static void start() throws IOException {
        // the image server of these tests is on loopback, which only --allow-private-urls lets the server fetch from
        server = new TestServer(TestServer.config().withImageLimits(BYTE_LIMIT, 4_000_000).withFetchTimeoutMillis(2000)
                .withAllowPrivateUrls(true));
        images = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        byte[] png = Files.readAllBytes(TestServer.IMAGES.resolve("tiny_37x91_rgba.png"));
        images.createContext("/tiny.png", ex -> {
            ex.getResponseHeaders().add("Content-Type", "image/png");
            ex.sendResponseHeaders(200, png.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(png);
            }
        });
        images.createContext("/redirect", ex -> {       // to the image, by a relative Location
            ex.getResponseHeaders().add("Location", "/tiny.png");
            ex.sendResponseHeaders(302, -1);
            ex.close();
        });
        images.createContext("/missing.png", ex -> {
            ex.sendResponseHeaders(404, -1);
            ex.close();
        });
        images.createContext("/endless", ex -> {        // no Content-Length, more bytes than the limit
            ex.getResponseHeaders().add("Content-Type", "image/png");
            ex.sendResponseHeaders(200, 0);
            try (OutputStream out = ex.getResponseBody()) {
                byte[] chunk = new byte[16 * 1024];
                for (long sent = 0; sent <= 4 * BYTE_LIMIT; sent += chunk.length) {
                    out.write(chunk);
                }
            } catch (IOException e) {
                // the server hung up once it had read enough: expected
            }
        });
        images.createContext("/slow", ex -> {
            try {
                Thread.sleep(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.sendResponseHeaders(200, png.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(png);
            } catch (IOException e) {
                // the client gave up: expected
            }
        });
        images.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        images.start();
        imageBase = "http://127.0.0.1:" + images.getAddress().getPort();
    }

    @AfterAll
    static void stop() {
        server.close();
        images.stop(0);
    }

    /** After every bad request, a good one is still answered. */
    @AfterEach
    void stillServing() {
        TestServer.Reply ok = server.chat(TestServer.request("Hello", 2));
        assertEquals(200, ok.status(), ok.body());
    }

    /** Asserts a 4xx (400 unless said) in OpenAI's shape; returns the error object. */
    static JsonNode error(TestServer.Reply reply, int status, String param, String messagePart) {
        assertEquals(status, reply.status(), reply.body());
        assertTrue(reply.contentType().startsWith("application/json"), reply.contentType());
        JsonNode error = reply.json().get("error");
        assertTrue(error != null && error.isObject(), reply.body());
        assertTrue(error.get("message").asText().contains(messagePart), "message '" + error.get("message").asText()
                + "' should mention '" + messagePart + "'");
        assertTrue(error.get("type").isTextual());
        assertTrue(error.has("code"));
        if (param != null) {
            assertEquals(param, error.get("param").asText());
        }
        return error;
    }

    static JsonNode badChat(String body, String param, String messagePart) {
        return error(server.post("/v1/chat/completions", body), 400, param, messagePart);
    }

    static JsonNode badChat(JsonNode body, String param, String messagePart) {
        return badChat(body.toString(), param, messagePart);
    }

    @Test
    void malformedJson() {
        JsonNode e = badChat("{\"messages\": [", null, "not valid JSON: the JSON ends before the array opened at line 1, column 14");
        assertEquals("invalid_request_error", e.get("type").asText());
        badChat("", null, "JSON");
        badChat("[1, 2]", null, "JSON object");
        badChat("{\"messages\": [{\"role\": \"user\",\n \"content\": \"hi\"]}", null,
                "']' where '}' should close the object opened at line 1, column 15 at line 2, column 17");
        badChat("{\"messages\": []} {}", null, "more content after the end of the JSON value");
        for (String bad : List.of("{\"a\": tru}", "{\"a\": [1}", "[".repeat(2000), "{\"a\": \"\u0001\"}")) {
            String message = server.post("/v1/chat/completions", bad).json().get("error").get("message").asText();
            for (String internal : List.of("Source:", "REDACTED", "StreamReadConstraints", "`")) {
                assertFalse(message.contains(internal), bad + " → " + message);
            }
        }
    }

    @Test
    void missingOrMistypedMessages() {
        badChat("{\"model\":\"x\"}", "messages", "messages is required");
        badChat("{\"messages\":\"hi\"}", "messages", "must be an array");
        badChat("{\"messages\":[]}", "messages", "must not be empty");
        badChat("{\"messages\":[{\"role\":\"user\",\"content\":42}]}", "messages[0].content", "string or an array");
        badChat("{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "messages[0].role", "not supported");
        badChat("{\"messages\":[{\"content\":\"x\"}]}", "messages[0].role", "must be a string");
        badChat("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"audio\"}]}]}", "messages[0].content[0].type", "audio");
        badChat("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":7}]}]}", "messages[0].content[0].text",
                "must be a string");
        badChat("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":1}}]}]}",
                "messages[0].content[0].image_url.url", "must be a string");
        badChat("{\"messages\":[{\"role\":\"assistant\",\"content\":\"x\"}]}", "messages", "start with a user message");
        badChat("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]}", "messages",
                "last message");
    }

    @Test
    void knownFieldsOfTheWrongTypeOrRange() {
        badChat(TestServer.request("hi", 4).put("temperature", "hot"), "temperature", "must be a number");
        badChat(TestServer.request("hi", 4).put("temperature", 3), "temperature", "between 0 and 2");
        badChat(TestServer.request("hi", 4).put("max_tokens", "many"), "max_tokens", "must be an integer");
        badChat(TestServer.request("hi", 4).put("max_tokens", 0), "max_tokens", "at least 1");
        badChat(TestServer.request("hi", 4).put("max_completion_tokens", 2.5), "max_completion_tokens", "integer");
        badChat(TestServer.request("hi", 4).put("top_p", 0), "top_p", "(0, 1]");
        badChat(TestServer.request("hi", 4).put("seed", "x"), "seed", "integer");
        badChat(TestServer.request("hi", 4).put("stream", "yes"), "stream", "boolean");
        badChat(TestServer.request("hi", 4).put("stop", 5), "stop", "string or an array");
        badChat(TestServer.request("hi", 4).put("n", 2), "n", "n must be 1");
        ObjectNode options = TestServer.request("hi", 4);
        options.putObject("stream_options").put("include_usage", "yes");
        badChat(options, "stream_options.include_usage", "boolean");
    }

    @Test
    void unknownFieldsAndNullsAreIgnored() {
        ObjectNode r = TestServer.request("hi", 3);
        r.put("frequency_penalty", 0).put("user", "someone").putNull("seed").putNull("stop").put("n", 1);
        r.putObject("metadata").put("anything", true);
        TestServer.Reply reply = server.chat(r);
        assertEquals(200, reply.status(), reply.body());
        assertEquals(3, reply.json().get("usage").get("completion_tokens").asInt());
    }

    @Test
    void badBase64() {
        JsonNode e = badChat(TestServer.request("hi", 4, "data:image/png;base64,iVBORw0KGgo*&^%$"),
                "messages[0].content[0].image_url.url", "invalid base64");
        assertEquals("invalid_base64", e.get("code").asText());
        badChat(TestServer.request("hi", 4, "data:image/png,rawbytes"), "messages[0].content[0].image_url.url", "base64");
    }

    @Test
    void notAnImage() {
        String text = "data:image/png;base64," + Base64.getEncoder().encodeToString("just some text".getBytes(StandardCharsets.UTF_8));
        JsonNode e = badChat(TestServer.request("hi", 4, text), "messages[0].content[0].image_url.url", "not an image");
        assertEquals("invalid_image", e.get("code").asText());
        // a PNG signature followed by garbage: a reader claims it, then fails to read it
        byte[] broken = new byte[64];
        System.arraycopy(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, 0, broken, 0, 8);
        badChat(TestServer.request("hi", 4, "data:image/png;base64," + Base64.getEncoder().encodeToString(broken)),
                "messages[0].content[0].image_url.url", "image");
    }

    /** 413 naming the flag, for a data URI and for a download (which is not read beyond the limit). */
    @Test
    void imageOverTheByteLimit() {
        JsonNode e = error(server.chat(TestServer.request("hi", 4, TestServer.dataUri(TestServer.IMAGES.resolve("dog_a.png")))), 413,
                "messages[0].content[0].image_url.url", "over the limit of " + BYTE_LIMIT + " bytes (--max-image-mb 0.14)");
        assertEquals("image_too_large", e.get("code").asText());
        error(server.chat(TestServer.request("hi", 4, imageBase + "/endless")), 413, "messages[0].content[0].image_url.url",
                "the image is more than " + BYTE_LIMIT + " bytes, over the limit of " + BYTE_LIMIT + " bytes (--max-image-mb 0.14)");
    }

    /** Truncated copies of every supported format: 400, with the message the CLI gives for the same file. */
    @Test
    void truncatedImagesInEveryFormat() throws IOException {
        try (var files = Files.list(ai.vl4j.Fixtures.TESTDATA.resolve("formats"))) {
            for (Path f : files.filter(f -> !f.toString().endsWith(".json")).sorted().toList()) {
                byte[] whole = Files.readAllBytes(f);
                byte[] cut = java.util.Arrays.copyOf(whole, whole.length * 3 / 4);
                String param = "messages[0].content[0].image_url.url";
                String cli = assertThrowsMessage(() -> ai.vl4j.image.ImageLoader.decode(cut, param));
                JsonNode e = badChat(TestServer.request("hi", 2, "data:image/png;base64," + Base64.getEncoder().encodeToString(cut)), param,
                        "file is truncated");
                assertEquals(cli, e.get("message").asText(), f.toString());
                assertEquals("invalid_image", e.get("code").asText());
            }
        }
    }

    private static String assertThrowsMessage(org.junit.jupiter.api.function.Executable decode) {
        return org.junit.jupiter.api.Assertions.assertThrows(ai.vl4j.InvalidInputException.class, decode).getMessage();
    }

    /** A 60000 × 60000 PNG of a few hundred bytes: refused from its header, before any pixel is decoded. */
    @Test
    void decompressionBombIsRefusedFromItsHeader() throws IOException {
        byte[] bomb = bombPng(60_000, 60_000);
        assertTrue(bomb.length < 100_000);
        JsonNode e = badChat(TestServer.request("hi", 4, "data:image/png;base64," + Base64.getEncoder().encodeToString(bomb)),
                "messages[0].content[0].image_url.url", "60000×60000 = 3600000000 pixels");
        assertEquals("image_too_large", e.get("code").asText());
    }

    @Test
    void moreImagesThanFitTheContext() {
        String tiny = TestServer.dataUri(TestServer.IMAGES.resolve("tiny_37x91_rgba.png"));
        String[] urls = new String[29];                       // 29 × 576 = 16704 > 16384
        java.util.Arrays.fill(urls, tiny);
        JsonNode e = badChat(TestServer.request("hi", 4, urls), "messages", "29 images take 16704 tokens");
        assertEquals("context_length_exceeded", e.get("code").asText());
    }

    @Test
    void promptOverTheContext() {
        JsonNode e = badChat(TestServer.request("hello ".repeat(17_000), 4), "messages", "the model's context holds 16384");
        assertEquals("context_length_exceeded", e.get("code").asText());
    }

    @Test
    void maxTokensIsClippedToTheContext() {
        // 28 images (16128 tokens) + text leave ~200 positions: a huge max_tokens is cut to what fits
        String tiny = TestServer.dataUri(TestServer.IMAGES.resolve("tiny_37x91_rgba.png"));
        String[] urls = new String[28];
        java.util.Arrays.fill(urls, tiny);
        TestServer.Reply reply = server.chat(TestServer.request("hi", 1_000_000, urls));
        assertEquals(200, reply.status(), reply.body());
        JsonNode usage = reply.json().get("usage");
        assertTrue(usage.get("total_tokens").asInt() <= 16384, usage.toString());
        int budget = 16384 - usage.get("prompt_tokens").asInt();
        assertEquals("max_tokens 1000000 was clipped to " + budget + ": the model's context holds 16384 tokens and the prompt takes "
                + usage.get("prompt_tokens").asInt(), reply.json().get("notes").get(0).asText());
        assertFalse(server.chat(TestServer.request("hi", 2)).json().has("notes"));
    }

    @Test
    void imageTagsThatDoNotPairUp() {
        badChat(TestServer.request("<image_placeholder> what is this?", 4), "messages", "image");
    }

    @Test
    void httpImages() {
        TestServer.Reply ok = server.chat(TestServer.request("What is this?", 3, imageBase + "/tiny.png"));
        assertEquals(200, ok.status(), ok.body());
        badChat(TestServer.request("hi", 4, imageBase + "/missing.png"), "messages[0].content[0].image_url.url", "HTTP 404");
        badChat(TestServer.request("hi", 4, imageBase + "/slow"), "messages[0].content[0].image_url.url", "timed out");
        badChat(TestServer.request("hi", 4, "http://127.0.0.1:1/nothing-listens.png"), "messages[0].content[0].image_url.url",
                "cannot fetch");
    }

    @Test
    void privateAddressesOnlyWhenAllowed() throws Exception {
        try (TestServer strict = new TestServer(TestServer.config())) {
            for (String url : List.of(imageBase + "/tiny.png", "http://localhost:" + images.getAddress().getPort() + "/tiny.png",
                    "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/x.png", "http://[::1]:9/x.png")) {
                TestServer.Reply r = strict.chat(TestServer.request("hi", 4, url));
                assertEquals(400, r.status(), url + ": " + r.body());
                assertTrue(r.json().get("error").get("message").asText().contains("--allow-private-urls"), r.body());
            }
            TestServer.Reply ftp = strict.chat(TestServer.request("hi", 4, "http:///no-host.png"));
            assertEquals(400, ftp.status(), ftp.body());
        }
        // a redirect is checked hop by hop: allowed here (loopback allowed), the image arrives through it
        TestServer.Reply redirected = server.chat(TestServer.request("What is this?", 3, imageBase + "/redirect"));
        assertEquals(200, redirected.status(), redirected.body());
        assertTrue(ImageFetcher.isPrivate(java.net.InetAddress.getByName("100.64.0.1")));
        assertTrue(ImageFetcher.isPrivate(java.net.InetAddress.getByName("fd00::1")));
        assertTrue(ImageFetcher.isPrivate(java.net.InetAddress.getByName("0.0.0.0")));
        assertFalse(ImageFetcher.isPrivate(java.net.InetAddress.getByName("8.8.8.8")));
        assertFalse(ImageFetcher.isPrivate(java.net.InetAddress.getByName("2606:4700::1111")));
    }

    @Test
    void localFilesOnlyWhenAllowed() {
        String path = TestServer.IMAGES.resolve("tiny_37x91_rgba.png").toAbsolutePath().toString();
        badChat(TestServer.request("hi", 4, path), "messages[0].content[0].image_url.url", "--allow-local-files");
        badChat(TestServer.request("hi", 4, Path.of(path).toUri().toString()), "messages[0].content[0].image_url.url",
                "--allow-local-files");
        try (TestServer local = new TestServer(TestServer.config().withAllowLocalFiles(true))) {
            assertEquals(200, local.chat(TestServer.request("hi", 2, path)).status());
            assertEquals(200, local.chat(TestServer.request("hi", 2, Path.of(path).toUri().toString())).status());
            error(local.chat(TestServer.request("hi", 2, path + ".nope")), 400, null, "no such file");
        }
    }

    @Test
    void unknownEndpointsAndMethods() {
        assertEquals("not_found", error(server.get("/v1/nothing"), 404, null, "not found").get("code").asText());
        TestServer.Reply wrong = server.get("/v1/chat/completions");
        assertEquals("method_not_allowed", error(wrong, 405, null, "GET is not allowed on /v1/chat/completions").get("code").asText());
        assertEquals("POST", wrong.allow());
        assertEquals("GET", server.post("/health", "{}").allow());
        assertEquals(405, server.post("/v1/models", "{}").status());
    }

    @Test
    void bodyOverTheRequestLimit() {
        try (TestServer small = new TestServer(new ServerConfig("127.0.0.1", 0, "tiny", 2, 2, 16, false, false, 1 << 20, 1 << 20,
                10_000, 1000, 0))) {
            TestServer.Reply r = small.chat(TestServer.request("x".repeat(20_000), 2));
            assertTrue(r.status() == 413, r.status() + " " + r.body());
            assertEquals("the request body is over the limit of 10000 bytes", r.json().get("error").get("message").asText());
        }
        // by default the limit follows from --max-image-mb: the images the context can take, and 1 MB of text
        long limit = ServerConfig.requestBytesFor(BYTE_LIMIT, 28);
        TestServer.Reply r = server.chat(TestServer.request("x".repeat((int) limit), 2));
        error(r, 413, null, "the request body is over the limit of " + limit + " bytes (room for 28 images of --max-image-mb 0.14 as data "
                + "URIs, which is what the model's context of 16384 tokens can take, and 1 MB of text)");
    }

    /** A valid PNG header (IHDR) claiming width × height, with a tiny zero-filled IDAT for the first rows only. */
    static byte[] bombPng(int width, int height) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(width).putInt(height).put((byte) 1).put((byte) 0)
                .put((byte) 0).put((byte) 0).put((byte) 0);
        chunk(out, "IHDR", ihdr.array());
        Deflater deflater = new Deflater();
        deflater.setInput(new byte[(width / 8 + 1) * 16]);
        deflater.finish();
        byte[] buf = new byte[4096];
        int n = deflater.deflate(buf);
        chunk(out, "IDAT", java.util.Arrays.copyOf(buf, n));
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) throws IOException {
        out.write(ByteBuffer.allocate(4).putInt(data.length).array());
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.write(t);
        out.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.write(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    @Test
    void systemMessagesCarryNoImages() {
        ObjectNode r = TestServer.request("hi", 2);
        ArrayNode messages = (ArrayNode) r.get("messages");
        ObjectNode system = TestServer.JSON.createObjectNode().put("role", "system");
        system.putArray("content").addObject().put("type", "image_url").putObject("image_url").put("url", "data:x");
        messages.insert(0, system);
        badChat(r, "messages[0].content[0].image_url.url", "system messages cannot carry images");
    }
}
