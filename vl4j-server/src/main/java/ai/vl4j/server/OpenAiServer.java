package ai.vl4j.server;

import ai.vl4j.sam.Sam;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.zeroshot.ZeroShotClassifier;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * The HTTP server: OpenAI's chat completions and models endpoints, health, Prometheus metrics and the web chat
 * page, on Javalin (Jetty). Every error leaves as OpenAI's error JSON with a 4xx for anything the client can
 * fix (a wrong method on a known route: 405 with {@code Allow}); the request's own thread does the checking (see
 * {@link ChatHandler}) and one {@link BatchScheduler} thread does all the model's work. One log line per request goes
 * to the log stream. With an API key in the config, every {@code /v1/*} request must carry it ({@link ApiKey}); the
 * request body may be as large as the images the context can take ({@link ServerConfig#requestBytesFor}).
 * {@link #drain} shuts down gracefully, {@link #close} at once.
 *
 * <pre>{@code
 * try (DeepSeekVl vl = DeepSeekVl.load(folder);
 *      OpenAiServer server = OpenAiServer.start(vl, ServerConfig.defaults("my-model"), System.err)) {
 *     server.awaitShutdown();
 * }
 * }</pre>
 */
public final class OpenAiServer implements AutoCloseable {
    /** The routes and their methods (a wrong method is 405 with this as its Allow header). */
    private static final Map<String, String> ROUTES = Map.of("/", "GET", "/favicon.ico", "GET", "/favicon.svg", "GET", "/health", "GET",
            "/metrics", "GET", "/v1/models", "GET", "/v1/chat/completions", "POST", "/v1/classify", "POST", "/v1/embeddings", "POST", "/v1/segment", "POST");
    private static final long STREAM_IDLE_TIMEOUT_MS = 10 * 60_000;

    private final Javalin app;
    private final BatchScheduler scheduler;
    private final ChatHandler chat;
    private final ServerConfig config;
    private final Object closed = new Object();
    private volatile boolean closing;                 // close() has begun
    private boolean finished;                         // close() is done (guarded by closed)

    private OpenAiServer(Javalin app, BatchScheduler scheduler, ChatHandler chat, ServerConfig config) {
        this.app = app;
        this.scheduler = scheduler;
        this.chat = chat;
        this.config = config;
    }

    /** Starts serving vl (which the caller keeps open until this server is closed). */
    public static OpenAiServer start(DeepSeekVl vl, ServerConfig config, PrintStream log) {
        return start(vl, null, null, null, null, config, log);
    }

    /** As above, and SAM at {@code POST /v1/segment} when sam is not null (kept open by the caller too). */
    public static OpenAiServer start(DeepSeekVl vl, ServerConfig config, PrintStream log, Sam sam, String samId) {
        return start(vl, null, null, sam, samId, config, log);
    }

    /**
     * As above, with /v1/classify and /v1/embeddings served by a SigLIP or CLIP model named zeroShotId (null: those
     * routes answer 404).
     */
    public static OpenAiServer start(DeepSeekVl vl, ZeroShotClassifier zeroShot, String zeroShotId, ServerConfig config, PrintStream log) {
        return start(vl, zeroShot, zeroShotId, null, null, config, log);
    }

    /**
     * Starts serving vl, with /v1/classify and /v1/embeddings on a SigLIP or CLIP model named zeroShotId and
     * /v1/segment on a SAM model named samId (either null: those routes answer 404). The caller keeps every model
     * open until this server is closed.
     */
    public static OpenAiServer start(DeepSeekVl vl, ZeroShotClassifier zeroShot, String zeroShotId, Sam sam, String samId,
                                     ServerConfig config, PrintStream log) {
        SegmentHandler segment = sam == null ? null : new SegmentHandler(sam, samId, config);
        int context = vl.config().language().maxPositions();
        int imagesThatFit = Math.max(1, (context - 1) / vl.config().chatProcessor().numImageTokens());
        long maxBody = config.maxRequestBytes() > 0 ? config.maxRequestBytes()
                : ServerConfig.requestBytesFor(config.maxImageBytes(), imagesThatFit);
        String bodyLimit = "the request body is over the limit of " + maxBody + " bytes" + (config.maxRequestBytes() > 0 ? ""
                : " (room for " + imagesThatFit + " images of --max-image-mb " + config.maxImageMb() + " as data URIs, which is what the"
                + " model's context of " + context + " tokens can take, and 1 MB of text)");
        BatchScheduler scheduler = new BatchScheduler(vl, config.maxBatch(), config.maxQueue(), config.prefixCacheBytes());
        Metrics metrics = new Metrics();
        ChatHandler chat = new ChatHandler(vl, config, scheduler, metrics, maxBody);
        ZeroShotHandler zeroShotHandler = new ZeroShotHandler(zeroShot, zeroShotId, config);
        ApiKey key = config.apiKey() == null ? null : new ApiKey(config.apiKey());
        String page = resource("chat.html").replace("__DEFAULT_MAX_TOKENS__", Integer.toString(config.defaultMaxTokens()));
        String icon = resource("favicon.svg");
        long created = System.currentTimeMillis() / 1000;
        Javalin app = Javalin.create(c -> {
            c.startup.showJavalinBanner = false;
            c.startup.showOldJavalinVersionWarning = false;
            c.http.maxRequestSize = maxBody;
            c.http.prefer405over404 = true;
            // a non-streaming answer can take minutes with no bytes on the wire
            c.jetty.modifyHttpConfiguration(http -> http.setIdleTimeout(STREAM_IDLE_TIMEOUT_MS));
            if (key != null) {
                c.routes.before("/v1/*", key::check);
            }
            c.routes.get("/", ctx -> ctx.html(page));
            c.routes.get("/favicon.ico", ctx -> ctx.contentType("image/svg+xml").result(icon));
            c.routes.get("/favicon.svg", ctx -> ctx.contentType("image/svg+xml").result(icon));
            c.routes.get("/health", ctx -> {
                ObjectNode h = ChatResponses.JSON.createObjectNode();
                h.put("status", chat.draining() ? "draining" : "ok");
                h.put("model", config.modelId());
                h.put("queued", scheduler.queued());
                h.put("active", scheduler.active());
                h.put("api_key_required", key != null);
                h.put("default_max_tokens", config.defaultMaxTokens());
                h.put("sam_model", segment == null ? null : samId);     // the web page offers its segmentation view
                ctx.status(chat.draining() ? 503 : 200);        // load balancers take a draining server out
                json(ctx, h);
            });
            c.routes.get("/metrics", ctx -> {
                ctx.contentType("text/plain; version=0.0.4; charset=utf-8");
                ctx.result(metrics.render(scheduler));
            });
            c.routes.get("/v1/models", ctx -> json(ctx, ChatResponses.models(config.modelId(), created)));
            c.routes.post("/v1/chat/completions", chat::handle);
            c.routes.post("/v1/classify", zeroShotHandler::classify);
            c.routes.post("/v1/embeddings", zeroShotHandler::embeddings);
            if (segment != null) {
                c.routes.post("/v1/segment", segment::handle);
            }
            c.routes.exception(ApiException.class, (e, ctx) -> error(ctx, e));
            // Javalin's own refusals (no such endpoint, wrong method, body too large) in the same shape
            c.routes.exception(HttpResponseException.class, (e, ctx) -> {
                String allow = ROUTES.get(ctx.path());
                ApiException refusal = switch (e.getStatus()) {
                    case 404 -> new ApiException(404, "invalid_request_error", "endpoint " + ctx.method() + " " + ctx.path() + " not found",
                            null, "not_found");
                    case 405 -> new ApiException(405, "invalid_request_error", ctx.method() + " is not allowed on " + ctx.path()
                            + " (allowed: " + allow + ")", null, "method_not_allowed");
                    case 413 -> ApiException.tooLarge(bodyLimit, null, "request_too_large");
                    default -> new ApiException(e.getStatus(), "invalid_request_error", e.getMessage(), null, null);
                };
                if (e.getStatus() == 405 && allow != null) {
                    ctx.header("Allow", allow);
                }
                error(ctx, refusal);
            });
            c.routes.exception(Exception.class, (e, ctx) -> {
                e.printStackTrace(log);
                error(ctx, ApiException.internal("internal error: " + e));
            });
            c.requestLogger.http((ctx, ms) -> {
                Object override = ctx.attribute(ChatHandler.STATUS_OVERRIDE);
                int status = override instanceof Integer i ? i : ctx.status().getCode();
                metrics.request(ROUTES.containsKey(ctx.path()) ? ctx.path() : "other", status);
                Object tokens = ctx.attribute(ChatHandler.TOKENS);
                log.printf(Locale.ROOT, "%s %s %d%s %.3fs%n", ctx.method(), ctx.path(), status,
                        tokens == null ? "" : " " + tokens, ms / 1000.0);
            });
        });
        try {
            app.start(config.host(), config.port());
        } catch (RuntimeException e) {
            scheduler.close();
            throw e;
        }
        if (key == null && !loopback(config.host())) {
            log.println("vl4j: warning: listening on " + config.host() + " without an API key: anyone who can reach port " + app.port()
                    + " can use the model; set one with --api-key or VL4J_API_KEY");
        }
        return new OpenAiServer(app, scheduler, chat, config);
    }

    /** True when host names only this machine (127.0.0.0/8, ::1, localhost). */
    static boolean loopback(String host) {
        try {
            for (InetAddress a : InetAddress.getAllByName(host)) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return true;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** The port bound (the free one chosen when the config asked for 0). */
    public int port() {
        return app.port();
    }

    /** The base URL, e.g. http://127.0.0.1:8080/ */
    public String url() {
        String host = config.host().contains(":") ? "[" + config.host() + "]" : config.host();
        return "http://" + host + ":" + port() + "/";
    }

    /** Blocks until {@link #close} (from a shutdown hook, say, or at the end of {@link #drain}) has finished. */
    public void awaitShutdown() throws InterruptedException {
        synchronized (closed) {
            while (!finished) {
                closed.wait();
            }
        }
    }

    /**
     * Graceful shutdown: from now on new requests get 503 and {@code /health} reports {@code draining}; the requests
     * already taken (queued, decoding or streaming) are given up to timeout to finish; then the server closes.
     * Returns how many requests were still unfinished when the time ran out (and were answered 503).
     */
    public int drain(Duration timeout) throws InterruptedException {
        chat.drain();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (chat.inFlight() > 0 && System.nanoTime() < deadline && !closing) {
            Thread.sleep(20);
        }
        int unfinished = chat.inFlight();
        close();
        return unfinished;
    }

    /** Requests taken and not yet answered completely. */
    public int inFlight() {
        return chat.inFlight();
    }

    /**
     * Stops accepting, fails what is still queued or decoding with 503 (their handlers get up to 2 s to send it),
     * stops the decode thread and the HTTP server. A second call returns at once.
     */
    @Override
    public void close() {
        synchronized (closed) {
            if (closing) {
                return;
            }
            closing = true;
        }
        chat.drain();
        scheduler.close();
        long until = System.nanoTime() + 2_000_000_000L;
        while (chat.inFlight() > 0 && System.nanoTime() < until) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        app.stop();
        synchronized (closed) {
            finished = true;
            closed.notifyAll();
        }
    }

    private static void json(Context ctx, ObjectNode body) {
        ctx.contentType("application/json");
        ctx.result(ChatResponses.write(body));
    }

    private static void error(Context ctx, ApiException e) {
        ctx.status(e.status);
        json(ctx, ChatResponses.error(e));
    }

    private static String resource(String name) {
        try (InputStream in = OpenAiServer.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name + " next to " + OpenAiServer.class.getName());
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
