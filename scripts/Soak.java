// Soak test of `vl4j serve` (a benchmark run by hand, not part of the build or CI): N concurrent streaming clients
// for M minutes with a mix of requests, then requests/s, latency and time-to-first-token percentiles, 4xx/5xx
// counts, the server's RSS over time, and a reconciliation of what the clients saw with the server's own counters.
// JDK only, run as a source file; scripts/soak.sh starts a server and runs it:
//   java scripts/Soak.java --url http://127.0.0.1:8080/ --clients 8 --minutes 10 [--pid SERVER_PID]
//                          [--max-tokens 32] [--images a.png,b.jpg,...] [--api-key KEY] [--max-image-mb 1]
//
// Each client loops over a fixed cycle of 20 requests (so every run has the same mix):
//   12 good streaming requests, text only or with one of the --images (round robin),
//    2 good requests that hang up after their first content chunk (the server must free their slot),
//    1 good non-streaming request,
//    5 bad ones: malformed JSON (400), a truncated image (400), a mistyped field (400),
//      an image over --max-image-mb (413), and GET on the chat endpoint (405).
// Checks: no 5xx; every good request answered (200), each stream with exactly one finish_reason and one [DONE]
// and one id throughout; no completion id seen twice; the server's vl4j_requests_total per status equals what
// the clients counted (nothing lost, nothing answered twice).

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Writer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class Soak {
    enum Kind { STREAM, DROP, PLAIN, BAD_JSON, TRUNCATED_IMAGE, BAD_FIELD, OVERSIZE_IMAGE, WRONG_METHOD }

    static final Kind[] CYCLE = {Kind.STREAM, Kind.BAD_JSON, Kind.STREAM, Kind.STREAM, Kind.DROP, Kind.STREAM, Kind.TRUNCATED_IMAGE,
            Kind.STREAM, Kind.PLAIN, Kind.STREAM, Kind.BAD_FIELD, Kind.STREAM, Kind.STREAM, Kind.DROP, Kind.OVERSIZE_IMAGE,
            Kind.STREAM, Kind.STREAM, Kind.WRONG_METHOD, Kind.STREAM, Kind.STREAM};
    static final Pattern ID = Pattern.compile("\"id\":\"([^\"]+)\"");
    static final Pattern FINISH = Pattern.compile("\"finish_reason\":\"([a-z_]+)\"");
    static final Pattern COMPLETION_TOKENS = Pattern.compile("\"completion_tokens\":(\\d+)");
    static final Pattern METRIC = Pattern.compile("^vl4j_requests_total\\{path=\"/v1/chat/completions\",status=\"(\\d+)\"} (\\d+)$",
            Pattern.MULTILINE);
    static final String[] TOPICS = {"a lighthouse", "the sea", "a red bicycle", "mountains", "a city at night", "a cat", "bread",
            "the moon", "a library", "rain", "a train", "a garden", "winter", "a violin", "a desert", "coffee"};

    record Sample(Kind kind, int status, double seconds, double ttft, int tokens, String problem) {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new HashMap<>(Map.of("--url", "http://127.0.0.1:8080/", "--clients", "8", "--minutes", "10",
                "--max-tokens", "32", "--max-image-mb", "1"));
        for (int i = 0; i + 1 < args.length; i += 2) {
            opt.put(args[i], args[i + 1]);
        }
        URI base = URI.create(opt.get("--url"));
        URI chat = base.resolve("v1/chat/completions");
        int clients = Integer.parseInt(opt.get("--clients"));
        double minutes = Double.parseDouble(opt.get("--minutes"));
        int maxTokens = Integer.parseInt(opt.get("--max-tokens"));
        String key = opt.get("--api-key");
        long pid = opt.containsKey("--pid") ? Long.parseLong(opt.get("--pid")) : -1;
        List<String> images = new ArrayList<>();
        if (opt.containsKey("--images")) {
            for (String f : opt.get("--images").split(",")) {
                images.add(dataUri(Files.readAllBytes(Path.of(f)), f));
            }
        }
        byte[] jpeg = opt.containsKey("--truncate") ? Files.readAllBytes(Path.of(opt.get("--truncate"))) : null;
        String truncated = jpeg == null ? "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ" : dataUri(Arrays.copyOf(jpeg, jpeg.length / 2), ".jpg");
        long overBytes = (long) (Double.parseDouble(opt.get("--max-image-mb")) * (1 << 20)) + (1 << 19);
        String oversize = "data:image/png;base64," + Base64.getEncoder().encodeToString(new byte[(int) overBytes]);

        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        Map<String, Integer> before = serverCounts(http, base);
        List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
        Set<String> ids = ConcurrentHashMap.newKeySet();
        List<String> duplicates = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger counter = new AtomicInteger();
        long start = System.nanoTime();
        long end = start + (long) (minutes * 60e9);
        List<String> rss = Collections.synchronizedList(new ArrayList<>());
        Thread sampler = Thread.ofPlatform().daemon().start(() -> {
            while (true) {
                rss.add(String.format(Locale.ROOT, "%5.0f s  rss %4d MB  %s  (%d requests done)", (System.nanoTime() - start) / 1e9,
                        rssMb(pid), heapAfterGc(http, base, pid), samples.size()));
                try {
                    Thread.sleep(30_000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            int client = c;
            threads.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; System.nanoTime() < end; i++) {
                    int n = counter.getAndIncrement();
                    Kind kind = CYCLE[(i + client * 7) % CYCLE.length];
                    String text = "Request " + n + ": write a short story about " + TOPICS[n % TOPICS.length] + ".";
                    String image = images.isEmpty() || n % 3 == 0 ? null : images.get(n % images.size());
                    String body = switch (kind) {
                        case STREAM, DROP -> body(text, image, maxTokens, true);
                        case PLAIN -> body(text, image, maxTokens, false);
                        case BAD_JSON -> "{\"messages\": [{\"role\": \"user\", \"content\": \"" + text + "\"}";
                        case TRUNCATED_IMAGE -> body(text, truncated, maxTokens, true);
                        case BAD_FIELD -> body(text, null, maxTokens, true).replace("\"temperature\":0", "\"temperature\":\"hot\"");
                        case OVERSIZE_IMAGE -> body(text, oversize, maxTokens, true);
                        case WRONG_METHOD -> null;
                    };
                    samples.add(one(http, chat, key, kind, body, ids, duplicates));
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        double wall = (System.nanoTime() - start) / 1e9;
        sampler.interrupt();
        rss.add(String.format(Locale.ROOT, "%5.0f s  rss %4d MB  %s  (end)", wall, rssMb(pid), heapAfterGc(http, base, pid)));
        Map<String, Integer> after = serverCounts(http, base);
        report(samples, wall, clients, maxTokens, images.size(), rss, duplicates, before, after);
    }

    static String body(String text, String image, int maxTokens, boolean stream) {
        String content = image == null ? quote(text) : "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + image
                + "\"}},{\"type\":\"text\",\"text\":" + quote(text) + "}]";
        return "{\"model\":\"soak\",\"stream\":" + stream + (stream ? ",\"stream_options\":{\"include_usage\":true}" : "")
                + ",\"temperature\":0,\"max_tokens\":" + maxTokens + ",\"messages\":[{\"role\":\"user\",\"content\":" + content + "}]}";
    }

    /** One request of the cycle, timed and checked. */
    static Sample one(HttpClient http, URI chat, String key, Kind kind, String body, Set<String> ids, List<String> duplicates) {
        long t0 = System.nanoTime();
        HttpRequest.Builder b = HttpRequest.newBuilder(chat).timeout(Duration.ofMinutes(10)).header("Content-Type", "application/json");
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        b = body == null ? b.GET() : b.POST(HttpRequest.BodyPublishers.ofString(body));
        try {
            HttpResponse<InputStream> r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            int status = r.statusCode();
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                if (status != 200) {
                    in.transferTo(Writer.nullWriter());
                    return new Sample(kind, status, seconds(t0), -1, 0, expected(kind) == status ? null : "HTTP " + status);
                }
                if (kind == Kind.PLAIN) {
                    String all = in.lines().reduce("", String::concat);
                    Matcher id = ID.matcher(all);
                    Matcher tokens = COMPLETION_TOKENS.matcher(all);
                    String problem = id.find() ? unique(id.group(1), ids, duplicates) : "no id";
                    return new Sample(kind, status, seconds(t0), -1, tokens.find() ? Integer.parseInt(tokens.group(1)) : 0, problem);
                }
                double ttft = -1;
                int tokens = 0;
                int finishes = 0;
                int dones = 0;
                String streamId = null;
                String problem = null;
                String line;
                while ((line = in.readLine()) != null) {
                    if (!line.startsWith("data: ")) {
                        continue;
                    }
                    if (line.equals("data: [DONE]")) {
                        dones++;
                        continue;
                    }
                    if (line.startsWith("data: {\"error\"")) {
                        problem = "error event: " + line;
                        continue;
                    }
                    Matcher id = ID.matcher(line);
                    if (id.find()) {
                        if (streamId == null) {
                            streamId = id.group(1);
                        } else if (!streamId.equals(id.group(1))) {
                            problem = "two ids in one stream";
                        }
                    }
                    if (ttft < 0 && line.contains("\"content\":\"") && !line.contains("\"content\":\"\"")) {
                        ttft = seconds(t0);
                        if (kind == Kind.DROP) {
                            return new Sample(kind, 499, seconds(t0), ttft, 0, null);    // hang up: closing the reader
                        }
                    }
                    if (FINISH.matcher(line).find()) {
                        finishes++;
                    }
                    Matcher usage = COMPLETION_TOKENS.matcher(line);
                    if (usage.find()) {
                        tokens = Integer.parseInt(usage.group(1));
                    }
                }
                if (problem == null && (dones != 1 || finishes != 1 || streamId == null)) {
                    problem = "stream with " + dones + " [DONE], " + finishes + " finish_reason";
                }
                if (problem == null) {
                    problem = unique(streamId, ids, duplicates);
                }
                if (kind == Kind.DROP && problem == null) {
                    problem = "finished before its first content chunk";   // nothing to drop
                }
                return new Sample(kind, status, seconds(t0), ttft, tokens, problem);
            }
        } catch (IOException e) {
            return new Sample(kind, -1, seconds(t0), -1, 0, "lost: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Sample(kind, -1, seconds(t0), -1, 0, "interrupted");
        }
    }

    static int expected(Kind kind) {
        return switch (kind) {
            case STREAM, DROP, PLAIN -> 200;
            case BAD_JSON, TRUNCATED_IMAGE, BAD_FIELD -> 400;
            case OVERSIZE_IMAGE -> 413;
            case WRONG_METHOD -> 405;
        };
    }

    static String unique(String id, Set<String> ids, List<String> duplicates) {
        if (!ids.add(id)) {
            duplicates.add(id);
            return "duplicate id " + id;
        }
        return null;
    }

    static void report(List<Sample> samples, double wall, int clients, int maxTokens, int images, List<String> rss, List<String> duplicates,
                       Map<String, Integer> before, Map<String, Integer> after) {
        List<Sample> answered = samples.stream().filter(s -> s.status() == 200).toList();
        List<Double> latency = answered.stream().map(Sample::seconds).sorted().toList();
        List<Double> ttft = samples.stream().filter(s -> s.ttft() >= 0).map(Sample::ttft).sorted().toList();
        long tokens = answered.stream().mapToLong(Sample::tokens).sum();
        Map<String, Integer> byStatus = new TreeMap<>();
        samples.forEach(s -> byStatus.merge(Integer.toString(s.status()), 1, Integer::sum));
        Map<Kind, Integer> byKind = new TreeMap<>();
        samples.forEach(s -> byKind.merge(s.kind(), 1, Integer::sum));
        long c4xx = samples.stream().filter(s -> s.status() >= 400 && s.status() < 499).count();
        long c5xx = samples.stream().filter(s -> s.status() >= 500).count();
        List<String> problems = samples.stream().filter(s -> s.problem() != null).map(s -> s.kind() + ": " + s.problem()).toList();

        System.out.printf(Locale.ROOT, "clients=%d seconds=%.0f max_tokens=%d images=%d%n", clients, wall, maxTokens, images);
        System.out.printf(Locale.ROOT, "requests=%d (%.2f/s)  answered 200=%d  dropped by the client=%d  4xx=%d  5xx=%d  lost=%d%n",
                samples.size(), samples.size() / wall, answered.size(), byStatus.getOrDefault("499", 0), c4xx, c5xx,
                byStatus.getOrDefault("-1", 0));
        System.out.println("by kind: " + byKind + "  by status: " + byStatus);
        System.out.printf(Locale.ROOT, "latency_s (200s) p50=%.2f p99=%.2f max=%.2f  ttft_s p50=%.2f p99=%.2f%n", pct(latency, 50),
                pct(latency, 99), pct(latency, 100), pct(ttft, 50), pct(ttft, 99));
        System.out.printf(Locale.ROOT, "completion_tokens=%d tokens_per_s=%.2f%n", tokens, tokens / wall);
        System.out.println("server RSS over time:");
        rss.forEach(line -> System.out.println("  " + line));
        Map<String, Integer> server = new TreeMap<>();
        after.forEach((status, n) -> server.put(status, n - before.getOrDefault(status, 0)));
        server.values().removeIf(n -> n == 0);
        Map<String, Integer> clientSide = new TreeMap<>(byStatus);
        System.out.println("server's vl4j_requests_total for the run: " + server + (server.equals(clientSide)
                ? " (equal to what the clients counted)" : "  MISMATCH with the clients' " + clientSide));
        System.out.println("duplicate completion ids: " + duplicates.size());
        System.out.println(problems.isEmpty() && c5xx == 0 && duplicates.isEmpty() && server.equals(clientSide) ? "PASS" : "FAIL");
        problems.stream().distinct().limit(10).forEach(p -> System.out.println("problem: " + p));
    }

    /** vl4j_requests_total of the chat endpoint by status, from /metrics (empty when it cannot be read). */
    static Map<String, Integer> serverCounts(HttpClient http, URI base) {
        Map<String, Integer> out = new TreeMap<>();
        try {
            String text = http.send(HttpRequest.newBuilder(base.resolve("metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
            Matcher m = METRIC.matcher(text);
            while (m.find()) {
                out.put(m.group(1), Integer.parseInt(m.group(2)));
            }
        } catch (IOException | InterruptedException e) {
            // no metrics: the reconciliation shows the mismatch
        }
        return out;
    }

    static final Pattern HEAP = Pattern.compile("^vl4j_jvm_heap_(used|committed)_bytes (\\S+)$", Pattern.MULTILINE);

    /**
     * The server's heap in use right after a full GC (jcmd PID GC.run), i.e. what it keeps alive, and its committed
     * heap: live data that grows run after run is a leak; RSS also grows while the JVM commits heap up to -Xmx.
     */
    static String heapAfterGc(HttpClient http, URI base, long pid) {
        if (pid < 0) {
            return "";
        }
        try {
            Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
            new ProcessBuilder(jcmd.toString(), Long.toString(pid), "GC.run").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
            String text = http.send(HttpRequest.newBuilder(base.resolve("metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
            Map<String, Long> heap = new HashMap<>();
            Matcher m = HEAP.matcher(text);
            while (m.find()) {
                heap.put(m.group(1), (long) Double.parseDouble(m.group(2)) >> 20);
            }
            return String.format(Locale.ROOT, "heap after GC %3d MB of %4d MB committed", heap.getOrDefault("used", -1L),
                    heap.getOrDefault("committed", -1L));
        } catch (IOException | InterruptedException e) {
            return "heap ?";
        }
    }

    static long rssMb(long pid) {
        if (pid < 0) {
            return -1;
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) >> 10;
                }
            }
        } catch (IOException e) {
            // the process is gone
        }
        return -1;
    }

    static String dataUri(byte[] bytes, String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        String mime = lower.endsWith(".png") ? "image/png" : lower.endsWith(".webp") ? "image/webp" : lower.endsWith(".gif") ? "image/gif"
                : lower.endsWith(".bmp") ? "image/bmp" : "image/jpeg";
        return "data:" + mime + ";base64," + Base64.getEncoder().encodeToString(bytes);
    }

    static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
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
