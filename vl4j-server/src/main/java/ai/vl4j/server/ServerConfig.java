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
 * @param maxRequestBytes   largest request body; 0: what follows from maxImageBytes, see {@link #requestBytesFor}
 * @param fetchTimeoutMillis connect and whole-download limit for http(s) images
 * @param prefixCacheBytes  memory for the KV caches of finished requests, kept so a follow-up turn of the same
 *                          conversation runs only its new tokens (0: none kept)
 * @param apiKey            when set, every /v1/* request must carry {@code Authorization: Bearer apiKey} (null: open)
 */
public record ServerConfig(String host, int port, String modelId, int maxBatch, int maxQueue, int defaultMaxTokens,
                           boolean allowLocalFiles, boolean allowPrivateUrls, long maxImageBytes, long maxImagePixels, long maxRequestBytes,
                           int fetchTimeoutMillis, long prefixCacheBytes, String apiKey) {

    public static final int DEFAULT_MAX_BATCH = 8;
    public static final int DEFAULT_MAX_QUEUE = 32;
    /** Room in a request body for text and JSON beside its images. */
    public static final long TEXT_BYTES = 1L << 20;

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
        if (maxImageBytes < 1 || maxImagePixels < 1 || maxRequestBytes < 0 || fetchTimeoutMillis < 1) {
            throw new IllegalArgumentException("image and request limits must be positive");
        }
        if (prefixCacheBytes < 0) {
            throw new IllegalArgumentException("--prefix-cache-mb must be at least 0, got " + (prefixCacheBytes >> 20));
        }
        if (apiKey != null && apiKey.isBlank()) {
            throw new IllegalArgumentException("--api-key must not be empty");
        }
    }

    /** The configuration without an API key (the key is never printed). */
    public ServerConfig(String host, int port, String modelId, int maxBatch, int maxQueue, int defaultMaxTokens, boolean allowLocalFiles,
                        boolean allowPrivateUrls, long maxImageBytes, long maxImagePixels, long maxRequestBytes, int fetchTimeoutMillis,
                        long prefixCacheBytes) {
        this(host, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, maxImageBytes, maxImagePixels,
                maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes, null);
    }

    /**
     * Local-only defaults: 8 sequences per step, 32 waiting, 512 tokens, 20 MB and 50 Mpx per image, a request body
     * as large as the images the model's context can take, no API key.
     */
    public static ServerConfig defaults(String modelId) {
        return new ServerConfig("127.0.0.1", 8080, modelId, DEFAULT_MAX_BATCH, DEFAULT_MAX_QUEUE, 512, false, false,
                20L << 20, 50_000_000L, 0, 30_000, defaultPrefixCacheBytes(), null);
    }

    /**
     * The body limit that follows from the image limit: images as many as the context has room for, each up to
     * maxImageBytes as a base64 data URI (4 characters per 3 bytes, plus 1/16 for line breaks and escaped slashes,
     * plus the {@code data:image/...;base64,} prefix), and {@link #TEXT_BYTES} of text.
     */
    public static long requestBytesFor(long maxImageBytes, int images) {
        return images * dataUriChars(maxImageBytes) + TEXT_BYTES;
    }

    /** The longest data URI an image of the given size can take, as {@link #requestBytesFor} counts it. */
    public static long dataUriChars(long imageBytes) {
        long base64 = (imageBytes + 2) / 3 * 4;
        return base64 + base64 / 16 + 256;
    }

    /** The image limit in MB as {@code --max-image-mb} takes it ("20", or "0.14" for limits set in bytes). */
    public String maxImageMb() {
        return maxImageBytes % (1 << 20) == 0 ? Long.toString(maxImageBytes >> 20)
                : String.format(java.util.Locale.ROOT, "%.2f", maxImageBytes / (double) (1 << 20));
    }

    @Override
    public String toString() {
        return "ServerConfig[host=" + host + ", port=" + port + ", modelId=" + modelId + ", maxBatch=" + maxBatch + ", maxQueue=" + maxQueue
                + ", defaultMaxTokens=" + defaultMaxTokens + ", allowLocalFiles=" + allowLocalFiles
                + ", allowPrivateUrls=" + allowPrivateUrls
                + ", maxImageBytes=" + maxImageBytes + ", maxImagePixels=" + maxImagePixels + ", maxRequestBytes=" + maxRequestBytes
                + ", fetchTimeoutMillis=" + fetchTimeoutMillis + ", prefixCacheBytes=" + prefixCacheBytes + ", apiKey="
                + (apiKey == null ? "none" : "(set)") + "]";
    }

    /** An eighth of the heap, at most 1 GB: room for a few conversations without crowding the running requests. */
    public static long defaultPrefixCacheBytes() {
        return Math.min(1L << 30, Runtime.getRuntime().maxMemory() / 8);
    }

    public ServerConfig withPort(int p) {
        return new ServerConfig(host, p, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, maxImageBytes,
                maxImagePixels, maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes, apiKey);
    }

    public ServerConfig withHost(String h) {
        return new ServerConfig(h, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, maxImageBytes,
                maxImagePixels, maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes, apiKey);
    }

    public ServerConfig withBatching(int batch, int queue) {
        return new ServerConfig(host, port, modelId, batch, queue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, maxImageBytes,
                maxImagePixels, maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes, apiKey);
    }

    public ServerConfig withAllowLocalFiles(boolean allow) {
        return new ServerConfig(host, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allow, allowPrivateUrls, maxImageBytes,
                maxImagePixels, maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes, apiKey);
    }

    public ServerConfig withAllowPrivateUrls(boolean allow) {
        return new ServerConfig(host, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allow, maxImageBytes,
                maxImagePixels, maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes, apiKey);
    }

    public ServerConfig withImageLimits(long bytes, long pixels) {
        return new ServerConfig(host, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, bytes, pixels,
                maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes, apiKey);
    }

    public ServerConfig withDefaultMaxTokens(int n) {
        return new ServerConfig(host, port, modelId, maxBatch, maxQueue, n, allowLocalFiles, allowPrivateUrls, maxImageBytes, maxImagePixels,
                maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes, apiKey);
    }

    public ServerConfig withFetchTimeoutMillis(int millis) {
        return new ServerConfig(host, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, maxImageBytes,
                maxImagePixels, maxRequestBytes, millis, prefixCacheBytes, apiKey);
    }

    public ServerConfig withApiKey(String key) {
        return new ServerConfig(host, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, maxImageBytes,
                maxImagePixels, maxRequestBytes, fetchTimeoutMillis, prefixCacheBytes, key);
    }

    public ServerConfig withMaxRequestBytes(long bytes) {
        return new ServerConfig(host, port, modelId, maxBatch, maxQueue, defaultMaxTokens, allowLocalFiles, allowPrivateUrls, maxImageBytes,
                maxImagePixels, bytes, fetchTimeoutMillis, prefixCacheBytes, apiKey);
    }
}
