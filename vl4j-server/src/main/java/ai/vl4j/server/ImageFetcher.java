package ai.vl4j.server;

import ai.vl4j.InvalidInputException;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;

/**
 * Turns an {@code image_url} into pixels, within limits: {@code data:} URIs (strict base64), http(s) URLs
 * (public addresses only unless allowed, redirects checked hop by hop, connect and download time limits, a byte
 * cap enforced while reading), and local files only when the server allows them. Before any pixel is decoded the header's width × height is checked, so a decompression bomb (a
 * small file that claims gigapixels) is refused for the cost of reading its header.
 */
final class ImageFetcher {
    private static final int MAX_REDIRECTS = 5;
    private final ServerConfig config;
    private final HttpClient http;

    ImageFetcher(ServerConfig config) {
        this.config = config;
        this.http = HttpClient.newBuilder()
                .connectTimeout(Duration.ofMillis(config.fetchTimeoutMillis()))
                .followRedirects(HttpClient.Redirect.NEVER)   // followed by hand: each hop's address is checked
                .build();
    }

    /** param is the request's JSON path of the URL, named in every error. */
    RgbImage fetch(String url, String param) {
        byte[] bytes = bytes(url, param);
        checkPixels(bytes, param);
        try {
            return ImageLoader.decode(bytes, param);
        } catch (InvalidInputException e) {
            throw ApiException.invalid(e.getMessage(), param, "invalid_image");
        }
    }

    private byte[] bytes(String url, String param) {
        if (url.startsWith("data:")) {
            return dataUri(url, param);
        }
        String lower = url.toLowerCase(java.util.Locale.ROOT);
        if (lower.startsWith("http://") || lower.startsWith("https://")) {
            return download(url, param);
        }
        if (!config.allowLocalFiles()) {
            throw ApiException.invalid(param + ": expected a data: URI or an http(s) URL (local files are refused unless the "
                    + "server runs with --allow-local-files)", param, "invalid_image_url");
        }
        return localFile(url, param);
    }

    private byte[] dataUri(String url, String param) {
        int comma = url.indexOf(',');
        if (comma < 0 || !url.substring(0, comma).toLowerCase(java.util.Locale.ROOT).endsWith(";base64")) {
            throw ApiException.invalid(param + ": expected data:image/...;base64,<data>", param, "invalid_image_url");
        }
        String payload = url.substring(comma + 1);
        // 4 base64 characters carry 3 bytes: refuse an oversized image before decoding it
        long estimate = payload.length() / 4L * 3;
        if (estimate > config.maxImageBytes() + 3) {
            throw tooManyBytes(param, "about " + estimate);
        }
        byte[] bytes;
        try {
            // strict alphabet (the MIME decoder would skip stray characters silently); line breaks are tolerated
            bytes = Base64.getDecoder().decode(payload.replaceAll("[\\r\\n ]", ""));
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(param + ": invalid base64 in the data URI (" + e.getMessage() + ")", param, "invalid_base64");
        }
        if (bytes.length > config.maxImageBytes()) {
            throw tooManyBytes(param, Long.toString(bytes.length));
        }
        return bytes;
    }

    private byte[] download(String url, String param) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw ApiException.invalid(param + ": malformed URL (" + e.getMessage() + ")", param, "invalid_image_url");
        }
        long deadline = System.nanoTime() + config.fetchTimeoutMillis() * 1_000_000L;
        try {
            for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
                checkAddress(uri, param);
                HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofMillis(config.fetchTimeoutMillis()))
                        .header("Accept", "image/*").GET().build();
                HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
                try (InputStream in = response.body()) {
                    int status = response.statusCode();
                    String location = response.headers().firstValue("Location").orElse(null);
                    if (status >= 300 && status < 400 && location != null) {
                        uri = uri.resolve(location);
                        continue;
                    }
                    if (status != 200) {
                        throw ApiException.invalid(param + ": fetching the image returned HTTP " + status, param, "image_fetch_failed");
                    }
                    long declared = response.headers().firstValueAsLong("Content-Length").orElse(-1);
                    if (declared > config.maxImageBytes()) {
                        throw tooManyBytes(param, Long.toString(declared));
                    }
                    return readCapped(in, param, deadline);
                }
            }
            throw ApiException.invalid(param + ": more than " + MAX_REDIRECTS + " redirects", param, "image_fetch_failed");
        } catch (HttpTimeoutException e) {
            throw ApiException.invalid(param + ": fetching the image timed out after " + config.fetchTimeoutMillis() + " ms",
                    param, "image_fetch_failed");
        } catch (IOException | IllegalArgumentException e) {
            throw ApiException.invalid(param + ": cannot fetch the image (" + e + ")", param, "image_fetch_failed");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiException.unavailable("interrupted while fetching an image");
        }
    }

    /**
     * Refuses URLs (the first and every redirect) that are not http(s) or whose host resolves to a loopback,
     * private, link-local (cloud metadata), carrier-grade NAT, multicast or unspecified address, unless the server
     * runs with --allow-private-urls: a request must not make the server probe its own network. The check is on
     * the names' addresses at this moment; a name re-pointed between the check and the connection (DNS rebinding)
     * is not caught.
     */
    private void checkAddress(URI uri, String param) throws UnknownHostException {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
            throw ApiException.invalid(param + ": only http(s) URLs with a host can be fetched, not " + uri, param, "invalid_image_url");
        }
        if (config.allowPrivateUrls()) {
            return;
        }
        for (InetAddress address : InetAddress.getAllByName(uri.getHost())) {
            if (isPrivate(address)) {
                throw ApiException.invalid(param + ": " + uri.getHost() + " is a local or private address (" + address.getHostAddress()
                        + "); the server fetches images from public addresses only unless started with --allow-private-urls",
                        param, "invalid_image_url");
            }
        }
    }

    static boolean isPrivate(InetAddress a) {
        if (a.isAnyLocalAddress() || a.isLoopbackAddress() || a.isLinkLocalAddress() || a.isSiteLocalAddress() || a.isMulticastAddress()) {
            return true;
        }
        byte[] b = a.getAddress();
        if (b.length == 4) {
            int first = b[0] & 0xff;
            int second = b[1] & 0xff;
            return first == 0 || (first == 100 && second >= 64 && second < 128)    // 0/8, carrier-grade NAT 100.64/10
                    || (first == 192 && second == 0 && (b[2] & 0xff) == 0)         // 192.0.0/24 protocol assignments
                    || first >= 240;                                               // reserved, broadcast
        }
        return (b[0] & 0xfe) == 0xfc;                                               // IPv6 unique local fc00::/7
    }

    /** Reads at most maxImageBytes (one more byte fails) before the deadline. */
    private byte[] readCapped(InputStream in, String param, long deadline) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[64 * 1024];
        int n;
        while ((n = in.read(buffer)) >= 0) {
            out.write(buffer, 0, n);
            if (out.size() > config.maxImageBytes()) {
                throw tooManyBytes(param, "more than " + config.maxImageBytes());   // the rest is not read
            }
            if (System.nanoTime() > deadline) {
                throw ApiException.invalid(param + ": fetching the image took longer than " + config.fetchTimeoutMillis() + " ms",
                        param, "image_fetch_failed");
            }
        }
        return out.toByteArray();
    }

    private byte[] localFile(String url, String param) {
        Path path;
        try {
            path = url.startsWith("file:") ? Path.of(new URI(url)) : Path.of(url);
        } catch (URISyntaxException | IllegalArgumentException e) {
            throw ApiException.invalid(param + ": not a usable file path or file: URI", param, "invalid_image_url");
        }
        try {
            long size = Files.size(path);
            if (size > config.maxImageBytes()) {
                throw tooManyBytes(param, Long.toString(size));
            }
            return Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw ApiException.invalid(param + ": no such file " + path, param, "invalid_image_url");
        } catch (IOException e) {
            throw ApiException.invalid(param + ": cannot read " + path + " (" + e.getMessage() + ")", param, "invalid_image_url");
        }
    }

    /** Width × height from the header (no pixels decoded); refuses non-images and images over the pixel limit. */
    private void checkPixels(byte[] bytes, String param) {
        ImageLoader.Header header;
        try {
            header = ImageLoader.header(bytes, param);
        } catch (InvalidInputException e) {
            throw ApiException.invalid(e.getMessage(), param, "invalid_image");
        }
        long pixels = (long) header.width() * header.height();
        if (pixels > config.maxImagePixels()) {
            throw ApiException.invalid(param + ": the image is " + header.width() + "×" + header.height() + " = " + pixels
                    + " pixels, over the limit of " + config.maxImagePixels() + " (--max-image-pixels)", param, "image_too_large");
        }
    }

    /** 413 naming the limit and its flag; size says how large the image is ("31457280", "about ...", "more than ..."). */
    private ApiException tooManyBytes(String param, String size) {
        return ApiException.tooLarge(param + ": the image is " + size + " bytes, over the limit of " + config.maxImageBytes()
                + " bytes (--max-image-mb " + config.maxImageMb() + ")", param, "image_too_large");
    }
}
