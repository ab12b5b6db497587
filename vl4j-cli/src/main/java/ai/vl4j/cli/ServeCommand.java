package ai.vl4j.cli;

import ai.vl4j.sam.Sam;
import ai.vl4j.server.OpenAiServer;
import ai.vl4j.server.ServerConfig;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.vlm.DeepSeekVl;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code vl4j serve}: the model behind an OpenAI-compatible HTTP API ({@code /v1/chat/completions},
 * {@code /v1/models}), {@code /health}, {@code /metrics} and a web chat page at {@code /}, until Ctrl-C.
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

    @Option(names = "--max-image-mb", defaultValue = "20", paramLabel = "MB", description = "Largest image file accepted (default ${DEFAULT-VALUE}).")
    long maxImageMb;

    @Option(names = "--max-image-pixels", defaultValue = "50000000", paramLabel = "N",
            description = "Largest width × height accepted, checked before decoding (default ${DEFAULT-VALUE}).")
    long maxImagePixels;

    @Option(names = "--prefix-cache-mb", paramLabel = "MB",
            description = "Memory for the KV caches of finished requests, reused by follow-up turns (default: an eighth of the heap, at most 1024; 0: off).")
    Long prefixCacheMb;

    @Option(names = "--sam-model", paramLabel = "MODEL",
            description = "Also serve Segment Anything at POST /v1/segment: a SAM checkpoint (HF SamModel layout), folder or ORG/NAME.")
    String samModel;

    @Mixin
    ComputeOptions compute;

    /** The running server, for tests that stop it. */
    static volatile OpenAiServer running;

    @Override
    public Integer call() throws Exception {
        QuantType quant = compute.apply();
        ServerConfig defaults = ServerConfig.defaults(model.model);
        ServerConfig config = new ServerConfig(host, port, model.model, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles,
                allowPrivateUrls, maxImageMb << 20, maxImagePixels, defaults.maxRequestBytes(), defaults.fetchTimeoutMillis(),
                prefixCacheMb == null ? defaults.prefixCacheBytes() : prefixCacheMb << 20);
        PrintStream err = Streams.err();
        try (Sam sam = samModel == null ? null : Sam.load(SegmentCommand.resolve(samModel));
             DeepSeekVl vl = model.load(quant, compute.kvPrecision());
             OpenAiServer server = OpenAiServer.start(vl, config, err, sam, samModel)) {
            running = server;
            Thread hook = new Thread(server::close, "vl4j-shutdown");   // Ctrl-C: finish cleanly, then exit
            Runtime.getRuntime().addShutdownHook(hook);
            err.println("vl4j: serving " + model.model + " at " + server.url() + "  (OpenAI API: " + server.url()
                    + "v1, chat page: " + server.url() + ")");
            server.awaitShutdown();
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
}
