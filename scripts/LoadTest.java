// Load client for `vl4j serve` (not part of the build or CI): N concurrent streaming clients for a while, then
// requests served, failures, latency percentiles and tokens/s. JDK only, run as a source file:
//   java scripts/LoadTest.java --url http://127.0.0.1:8080/ --clients 16 --seconds 300 --max-tokens 32 [--image F]
// scripts/load-test.sh starts a server on a synthetic model and runs this twice (1 client, then 16).

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class LoadTest {
    record Sample(double seconds, double ttft, int tokens) {
    }

    static final Pattern COMPLETION_TOKENS = Pattern.compile("\"completion_tokens\":(\\d+)");
    static final String[] TOPICS = {"a lighthouse", "the sea", "a red bicycle", "mountains", "a city at night", "a cat",
            "bread", "the moon", "a library", "rain", "a train", "a garden", "winter", "a violin", "a desert", "coffee"};

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new HashMap<>(Map.of("--url", "http://127.0.0.1:8080/", "--clients", "16", "--seconds", "300",
                "--max-tokens", "32"));
        for (int i = 0; i + 1 < args.length; i += 2) {
            opt.put(args[i], args[i + 1]);
        }
        URI endpoint = URI.create(opt.get("--url")).resolve("v1/chat/completions");
        int clients = Integer.parseInt(opt.get("--clients"));
        long seconds = Long.parseLong(opt.get("--seconds"));
        int maxTokens = Integer.parseInt(opt.get("--max-tokens"));
        String image = opt.containsKey("--image") ? "data:image/png;base64,"
                + Base64.getEncoder().encodeToString(Files.readAllBytes(Path.of(opt.get("--image")))) : null;

        HttpClient http = HttpClient.newHttpClient();
        List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger counter = new AtomicInteger();
        long start = System.nanoTime();
        long end = start + seconds * 1_000_000_000L;
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            threads.add(Thread.ofPlatform().start(() -> {
                while (System.nanoTime() < end) {
                    int n = counter.getAndIncrement();
                    String text = "Request " + n + ": write a short story about " + TOPICS[n % TOPICS.length] + ".";
                    String content = image == null ? quote(text)
                            : "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + image + "\"}},{\"type\":\"text\",\"text\":"
                            + quote(text) + "}]";
                    String body = "{\"model\":\"load\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"temperature\":0,"
                            + "\"max_tokens\":" + maxTokens + ",\"messages\":[{\"role\":\"user\",\"content\":" + content + "}]}";
                    try {
                        samples.add(one(http, endpoint, body));
                    } catch (Exception e) {
                        failures.add(e.toString());
                    }
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        double wall = (System.nanoTime() - start) / 1e9;
        List<Double> latency = samples.stream().map(Sample::seconds).sorted().toList();
        List<Double> ttft = samples.stream().map(Sample::ttft).sorted().toList();
        long tokens = samples.stream().mapToLong(Sample::tokens).sum();
        System.out.printf(Locale.ROOT, "clients=%d seconds=%.0f max_tokens=%d image=%s%n", clients, wall, maxTokens, image != null);
        System.out.printf(Locale.ROOT, "requests=%d failures=%d%n", samples.size(), failures.size());
        System.out.printf(Locale.ROOT, "latency_s p50=%.2f p99=%.2f max=%.2f  ttft_s p50=%.2f p99=%.2f%n", pct(latency, 50),
                pct(latency, 99), pct(latency, 100), pct(ttft, 50), pct(ttft, 99));
        System.out.printf(Locale.ROOT, "completion_tokens=%d tokens_per_s=%.2f%n", tokens, tokens / wall);
        failures.stream().distinct().limit(5).forEach(f -> System.out.println("failure: " + f));
    }

    /** One streaming request: total seconds, seconds to the first content chunk, completion tokens from usage. */
    static Sample one(HttpClient http, URI endpoint, String body) throws Exception {
        long t0 = System.nanoTime();
        HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(endpoint).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            if (r.statusCode() != 200) {
                throw new IllegalStateException("HTTP " + r.statusCode() + ": " + in.readLine());
            }
            double ttft = -1;
            int tokens = -1;
            boolean done = false;
            String line;
            while ((line = in.readLine()) != null) {
                if (!line.startsWith("data: ")) {
                    continue;
                }
                if (line.equals("data: [DONE]")) {
                    done = true;
                } else if (line.contains("\"error\"")) {
                    throw new IllegalStateException(line);
                } else {
                    if (ttft < 0 && line.contains("\"content\":\"") && !line.contains("\"content\":\"\"")) {
                        ttft = (System.nanoTime() - t0) / 1e9;
                    }
                    Matcher m = COMPLETION_TOKENS.matcher(line);
                    if (m.find()) {
                        tokens = Integer.parseInt(m.group(1));
                    }
                }
            }
            if (!done || tokens < 0) {
                throw new IllegalStateException("stream ended without usage and [DONE]");
            }
            return new Sample((System.nanoTime() - t0) / 1e9, ttft, tokens);
        }
    }

    static double pct(List<Double> sorted, double p) {
        if (sorted.isEmpty()) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(p / 100 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
    }

    static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
