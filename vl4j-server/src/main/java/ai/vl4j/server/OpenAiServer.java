package ai.vl4j.server;

import ai.vl4j.sam.Sam;
import ai.vl4j.vlm.DeepSeekVl;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;

/**
 * The HTTP server: OpenAI's chat completions and models endpoints, health, Prometheus metrics and the web chat
 * page, on Javalin (Jetty). Every error leaves as OpenAI's error JSON with a 4xx for anything the client can
 * fix; the request's own thread does the checking (see {@link ChatHandler}) and one {@link BatchScheduler}
 * thread does all the model's work. One log line per request goes to the log stream.
 *
 * <pre>{@code
 * try (DeepSeekVl vl = DeepSeekVl.load(folder);
 *      OpenAiServer server = OpenAiServer.start(vl, ServerConfig.defaults("my-model"), System.err)) {
 *     server.awaitShutdown();
 * }
 * }</pre>
 */
public final class OpenAiServer implements AutoCloseable {
    private static final Set<String> PATHS = Set.of("/", "/health", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/segment");
    private static final long STREAM_IDLE_TIMEOUT_MS = 10 * 60_000;

    private final Javalin app;
    private final BatchScheduler scheduler;
    private final ServerConfig config;
    private final Object closed = new Object();
    private volatile boolean stopped;

    private OpenAiServer(Javalin app, BatchScheduler scheduler, ServerConfig config) {
        this.app = app;
        this.scheduler = scheduler;
        this.config = config;
    }

    /** Starts serving vl (which the caller keeps open until this server is closed). */
    public static OpenAiServer start(DeepSeekVl vl, ServerConfig config, PrintStream log) {
        return start(vl, config, log, null, null);
    }

    /** As above, and SAM at {@code POST /v1/segment} when sam is not null (kept open by the caller too). */
    public static OpenAiServer start(DeepSeekVl vl, ServerConfig config, PrintStream log, Sam sam, String samId) {
        SegmentHandler segment = sam == null ? null : new SegmentHandler(sam, samId, config);
        BatchScheduler scheduler = new BatchScheduler(vl, config.maxBatch(), config.maxQueue(), config.prefixCacheBytes());
        Metrics metrics = new Metrics();
        ChatHandler chat = new ChatHandler(vl, config, scheduler, metrics);
        String page = resource("chat.html");
        long created = System.currentTimeMillis() / 1000;
        Javalin app = Javalin.create(c -> {
            c.startup.showJavalinBanner = false;
            c.startup.showOldJavalinVersionWarning = false;
            c.http.maxRequestSize = config.maxRequestBytes();
            // a non-streaming answer can take minutes with no bytes on the wire
            c.jetty.modifyHttpConfiguration(http -> http.setIdleTimeout(STREAM_IDLE_TIMEOUT_MS));
            c.routes.get("/", ctx -> ctx.html(page));
            c.routes.get("/health", ctx -> {
                ObjectNode h = ChatResponses.JSON.createObjectNode();
                h.put("status", "ok");
                h.put("model", config.modelId());
                h.put("queued", scheduler.queued());
                h.put("active", scheduler.active());
                json(ctx, h);
            });
            c.routes.get("/metrics", ctx -> {
                ctx.contentType("text/plain; version=0.0.4; charset=utf-8");
                ctx.result(metrics.render(scheduler));
            });
            c.routes.get("/v1/models", ctx -> json(ctx, ChatResponses.models(config.modelId(), created)));
            c.routes.post("/v1/chat/completions", chat::handle);
            if (segment != null) {
                c.routes.post("/v1/segment", segment::handle);
            }
            c.routes.exception(ApiException.class, (e, ctx) -> error(ctx, e));
            // Javalin's own refusals (no such endpoint, body too large) in the same shape
            c.routes.exception(HttpResponseException.class, (e, ctx) -> error(ctx, new ApiException(e.getStatus(),
                    "invalid_request_error", e.getMessage(), null, switch (e.getStatus()) {
                        case 404 -> "not_found";
                        case 413 -> "request_too_large";
                        default -> null;
                    })));
            c.routes.exception(Exception.class, (e, ctx) -> {
                e.printStackTrace(log);
                error(ctx, ApiException.internal("internal error: " + e));
            });
            c.requestLogger.http((ctx, ms) -> {
                Object override = ctx.attribute(ChatHandler.STATUS_OVERRIDE);
                int status = override instanceof Integer i ? i : ctx.status().getCode();
                metrics.request(PATHS.contains(ctx.path()) ? ctx.path() : "other", status);
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
        return new OpenAiServer(app, scheduler, config);
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

    /** Blocks until {@link #close} runs (from a shutdown hook, say). */
    public void awaitShutdown() throws InterruptedException {
        synchronized (closed) {
            while (!stopped) {
                closed.wait();
            }
        }
    }

    /** Stops accepting, fails what is still queued or decoding with 503, and stops the decode thread. */
    @Override
    public void close() {
        synchronized (closed) {
            if (stopped) {
                return;
            }
            stopped = true;
            closed.notifyAll();
        }
        scheduler.close();
        app.stop();
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
