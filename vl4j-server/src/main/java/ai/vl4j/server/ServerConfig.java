package ai.vl4j.server;

/**
 * How the server listens and what it accepts.
 *
 * @param host              interface to bind (127.0.0.1: this machine only)
 * @param port              TCP port; 0 picks a free one
 * @param modelId           the name /v1/models reports and responses carry
 * @param maxBatch          most sequences decoded together in one step
 * @param maxQueue          most requests waiting for a batch slot; one more is answered 429
 * @param defaultMaxTokens  completion budget when a request names none (clipped to the context)
 * @param allowLocalFiles   whether image_url may name a file on the server's disk
 * @param allowPrivateUrls  whether http(s) image URLs may point at loopback, private or link-local addresses
 *                          (off: the server cannot be made to probe its own network)
 * @param maxImageBytes     largest encoded image accepted (data URI after base64 decoding, or download)
 * @param maxImagePixels    largest width·height accepted, checked from the image header before decoding
 * @param maxRequestBytes   largest request body
 * @param fetchTimeoutMillis connect and whole-download limit for http(s) images
 * @param prefixCacheBytes  memory for the KV caches of finished requests, kept so a follow-up turn of the same
 *                          conversation runs only its new tokens (0: none kept)
 */
public record ServerConfig(String host, int port, String modelId, int maxBatch, int maxQueue, int defaultMaxTokens,
                           boolean allowLocalFiles, boolean allowPrivateUrls, long maxImageBytes, long maxImagePixels, long maxRequestBytes,
                           int fetchTimeoutMillis, long prefixCacheBytes) {

    public static final int DEFAULT_MAX_BATCH = 8;
    public static final int DEFAULT_MAX_QUEUE = 32;

    public ServerConfig {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--port must be in 0..65535, got " + port);
        }
        if (maxBatch < 1) {
            throw new IllegalArgumentException("--max-batch must be at least 1, got " + maxBatch);
        }
        if (maxQueue < 0) {
            throw new IllegalArgumentException("--max-queue must be at least 0, got " + maxQueue);
        }
        if (defaultMaxTokens < 1) {
            throw new IllegalArgumentException("default max tokens must be at least 1, got " + defaultMaxTokens);
        }
        if (maxImageBytes < 1 || maxImagePixels < 1 || maxRequestBytes < 1 || fetchTimeoutMillis < 1) {
            throw new IllegalArgumentException("image and request limits must be positive");
        }
        if (prefixCacheBytes < 0) {
            throw new IllegalArgumentException("--prefix-cache-mb must be at least 0, got " + (prefixCacheBytes >> 20));
        }
    }

    /** Local-only defaults: 8 sequences per step, 32 waiting, 512 tokens, 20 MB and 50 Mpx per image. */
    public static ServerConfig defaults(String modelId) {
        return new ServerConfig("127.0.0.1", 8080, modelId, DEFAULT_MAX_BATCH, DEFAULT_MAX_QUEUE, 512, false, false,
                20L << 20, 50_000_000L, 128L << 20, 30_000, defaultPrefixCacheBytes());
    }

    /** An eighth of the heap, at most 1 GB: room for a few conversations without crowding the running requests. */
    public static long defaultPrefixCacheBytes() {
        return Math.min(1L << 30, Runtime.getRuntime().maxMemory() / 8);
    }

    public ServerConfig withPort(int p) {
        return new ServerConfig(host, p, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, maxImageBytes,
                maxImagePixels, maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes);
    }

    public ServerConfig withHost(String h) {
        return new ServerConfig(h, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, maxImageBytes,
                maxImagePixels, maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes);
    }

    public ServerConfig withBatching(int batch, int queue) {
        return new ServerConfig(host, port, modelId, batch, queue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, maxImageBytes,
                maxImagePixels, maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes);
    }

    public ServerConfig withAllowLocalFiles(boolean allow) {
        return new ServerConfig(host, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allow, allowPrivateUrls, maxImageBytes,
                maxImagePixels, maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes);
    }

    public ServerConfig withAllowPrivateUrls(boolean allow) {
        return new ServerConfig(host, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allow, maxImageBytes,
                maxImagePixels, maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes);
    }

    public ServerConfig withImageLimits(long bytes, long pixels) {
        return new ServerConfig(host, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, bytes, pixels,
                maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes);
    }

    public ServerConfig withDefaultMaxTokens(int n) {
        return new ServerConfig(host, port, modelId, maxBatch, maxQueue, n, allowLocalFiles, allowPrivateUrls, maxImageBytes, maxImagePixels,
                maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes);
    }

    public ServerConfig withFetchTimeoutMillis(int millis) {
        return new ServerConfig(host, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, maxImageBytes,
                maxImagePixels, maxRequestBytes, millis, prefixCacheBytes);
    }
}
