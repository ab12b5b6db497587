package ai.vl4j.cli;

import ai.vl4j.sam.Sam;
import ai.vl4j.server.OpenAiServer;
import ai.vl4j.server.ServerConfig;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.zeroshot.ZeroShotClassifier;
import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code vl4j serve}: the model behind an OpenAI-compatible HTTP API ({@code /v1/chat/completions},
 * {@code /v1/models}), {@code /health}, {@code /metrics} and a web chat page at {@code /}, until Ctrl-C (stops at
 * once) or SIGTERM (drains: no new requests, those in flight finish within --drain-s, then exit 0).
 */
@Command(name = "serve", description = "Serve the model over an OpenAI-compatible HTTP API, with a web chat page.", sortOptions = false)
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "HOST",
            description = "Interface to listen on (default ${DEFAULT-VALUE}: this machine only; 0.0.0.0: all).")
    String host;

    @Option(names = "--port", defaultValue = "8080", paramLabel = "PORT", description = "TCP port; 0 picks a free one (default ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--max-batch", defaultValue = "" + ServerConfig.DEFAULT_MAX_BATCH, paramLabel = "N",
            description = "Most requests decoded together in one step (default ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--max-queue", defaultValue = "" + ServerConfig.DEFAULT_MAX_QUEUE, paramLabel = "N",
            description = "Most requests waiting for a batch slot; more are answered 429 (default ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(names = "--default-max-tokens", defaultValue = "512", paramLabel = "N",
            description = "Completion budget of requests that set no max_tokens (default ${DEFAULT-VALUE}).")
    int defaultMaxTokens;

    @Option(names = "--allow-local-files", description = "Let image_url name files on this machine (off: data: URIs and http(s) only).")
    boolean allowLocalFiles;

    @Option(names = "--allow-private-urls",
            description = "Let http(s) image URLs point at loopback, private or link-local addresses (off: public addresses only).")
    boolean allowPrivateUrls;

    @Option(names = "--max-image-mb", defaultValue = "20", paramLabel = "MB",
            description = "Largest image file accepted, as a data URI or by URL (default ${DEFAULT-VALUE}); larger ones are answered 413. "
                    + "The request body may hold as many such images as the context has room for, plus 1 MB of text.")
    long maxImageMb;

    @Option(names = "--max-image-pixels", defaultValue = "50000000", paramLabel = "N",
            description = "Largest width × height accepted, checked before decoding (default ${DEFAULT-VALUE}).")
    long maxImagePixels;

    @Option(names = "--prefix-cache-mb", paramLabel = "MB",
            description = "Memory for the KV caches of finished requests, reused by follow-up turns (default: an eighth of the heap, at most 1024; 0: off).")
    Long prefixCacheMb;

    @Option(names = "--api-key", paramLabel = "KEY", description = "Require 'Authorization: Bearer KEY' on every /v1/* request "
            + "(default: the VL4J_API_KEY environment variable; unset: no key). /health stays open. "
            + "Set one before listening beyond this machine.")
    String apiKey;

    @Option(names = "--drain-s", defaultValue = "30", paramLabel = "S",
            description = "On SIGTERM: stop taking requests, give those in flight S seconds to finish, then exit 0 "
                    + "(default ${DEFAULT-VALUE}).")
    int drainSeconds;

    @Option(names = "--sam-model", paramLabel = "MODEL",
            description = "Also serve Segment Anything at POST /v1/segment: a SAM checkpoint (HF SamModel layout), folder or ORG/NAME.")
    String samModel;

    @Mixin
    ComputeOptions compute;

    @Option(names = "--zero-shot-model", paramLabel = "M",
            description = "Also serve POST /v1/classify and /v1/embeddings with this SigLIP or CLIP model (folder or Hugging Face id).")
    String zeroShotModel;

    /** The running server, for tests that stop it. */
    static volatile OpenAiServer running;

    @Override
    public Integer call() throws Exception {
        QuantType quant = compute.apply();
        if (drainSeconds < 0) {
            throw new IllegalArgumentException("--drain-s must be at least 0, got " + drainSeconds);
        }
        if (maxImageMb < 1) {
            throw new IllegalArgumentException("--max-image-mb must be at least 1, got " + maxImageMb);
        }
        String key = apiKey != null ? apiKey : Streams.env().get("VL4J_API_KEY");
        if (key != null && key.isBlank()) {
            throw new IllegalArgumentException((apiKey != null ? "--api-key" : "VL4J_API_KEY") + " is empty");
        }
        ServerConfig defaults = ServerConfig.defaults(model.model);
        ServerConfig config = new ServerConfig(host, port, model.model, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles,
                allowPrivateUrls, maxImageMb << 20, maxImagePixels, 0, defaults.fetchTimeoutMillis(),
                prefixCacheMb == null ? defaults.prefixCacheBytes() : prefixCacheMb << 20, key);
        PrintStream err = Streams.err();
        try (ZeroShotClassifier zs = zeroShotModel == null ? null : ZeroShotClassifier.load(ModelOption.resolve(zeroShotModel));
             Sam sam = samModel == null ? null : Sam.load(SegmentCommand.resolve(samModel));
             DeepSeekVl vl = compute.adapt(model.load(quant, compute.kvPrecision()));
             OpenAiServer server = OpenAiServer.start(vl, zs, zeroShotModel, sam, samModel, config, err)) {
            running = server;
            Thread hook = new Thread(server::close, "vl4j-shutdown");   // Ctrl-C: finish cleanly, then exit
            Runtime.getRuntime().addShutdownHook(hook);
            TermSignal term = TermSignal.onTerm(new Drain(server, err)::signalled);   // SIGTERM: drain, then exit 0
            try {
                err.println("vl4j: serving " + model.model + " at " + server.url() + "  (OpenAI API: " + server.url()
                        + "v1, chat page: " + server.url() + ")");
                if (zs != null) {
                    err.println("vl4j: classify and embeddings with " + zeroShotModel + " (" + zs.family() + "): POST " + server.url()
                            + "v1/classify, " + server.url() + "v1/embeddings");
                }
                server.awaitShutdown();
            } finally {
                if (term != null) {
                    term.close();
                }
            }
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is already shutting down
            }
        } finally {
            running = null;
        }
        return 0;
    }

    /** SIGTERM: the first drains the server (on its own thread), a second one closes it at once. */
    private final class Drain {
        private final OpenAiServer server;
        private final PrintStream err;
        private boolean started;

        Drain(OpenAiServer server, PrintStream err) {
            this.server = server;
            this.err = err;
        }

        synchronized void signalled() {
            if (started) {
                err.println("vl4j: SIGTERM again: stopping now");
                server.close();
                return;
            }
            started = true;
            err.println("vl4j: SIGTERM: taking no new requests; " + server.inFlight() + " in flight get up to " + drainSeconds
                    + " s to finish");
            Thread.ofPlatform().name("vl4j-drain").start(() -> {
                try {
                    int cut = server.drain(Duration.ofSeconds(drainSeconds));
                    err.println(cut == 0 ? "vl4j: drained; stopped" : "vl4j: stopped with " + cut
                            + " requests unfinished (answered 503)");
                } catch (InterruptedException e) {
                    server.close();
                }
            });
        }
    }
}
