package ai.vl4j.server;

import ai.vl4j.InvalidInputException;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.text.ChatTemplate;
import ai.vl4j.text.Message;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.vlm.Prompt;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code POST /v1/chat/completions}. Everything that can be checked without the model's compute is checked here,
 * on the request's own thread, before the request takes a place in the queue: JSON and field types, image
 * count against the context, image download and decoding, the templated prompt's length. Then the completion
 * is queued for the {@link BatchScheduler} and this thread relays its events: one JSON body, or SSE chunks.
 */
final class ChatHandler {
    /** Attribute names the request log and metrics read. */
    static final String STATUS_OVERRIDE = "vl4j.status";
    static final String TOKENS = "vl4j.tokens";
    private static final int CLIENT_CLOSED = 499;      // nginx's code for "the client closed the request"

    private final DeepSeekVl vl;
    private final ServerConfig config;
    private final BatchScheduler scheduler;
    private final ImageFetcher images;
    private final Metrics metrics;
    private final ObjectMapper parser;
    private final AtomicInteger inFlight = new AtomicInteger();   // requests past the draining check, not yet answered
    private volatile boolean draining;

    ChatHandler(DeepSeekVl vl, ServerConfig config, BatchScheduler scheduler, Metrics metrics, long maxBodyBytes) {
        this.vl = vl;
        this.config = config;
        this.scheduler = scheduler;
        this.images = new ImageFetcher(config);
        this.metrics = metrics;
        this.parser = ChatRequest.parser(maxBodyBytes);
    }

    /** From now on new requests are answered 503; those already taken go on (see {@link #inFlight}). */
    void drain() {
        draining = true;
    }

    boolean draining() {
        return draining;
    }

    /** Requests taken and not yet answered completely. */
    int inFlight() {
        return inFlight.get();
    }

    void handle(Context ctx) throws InterruptedException {
        inFlight.incrementAndGet();
        try {
            if (draining) {
                ctx.header("Connection", "close");
                throw ApiException.unavailable("the server is shutting down and takes no new requests");
            }
            complete(ctx);
        } finally {
            inFlight.decrementAndGet();
        }
    }

    private void complete(Context ctx) throws InterruptedException {
        long arrived = System.nanoTime();
        ChatRequest request = ChatRequest.parse(ctx.bodyAsBytes(), parser);
        if (scheduler.full()) {
            throw busy(ctx);                              // before fetching and decoding its images for nothing
        }
        Completion job = prepare(request);
        if (!scheduler.submit(job)) {
            throw draining ? ApiException.unavailable("the server is shutting down and takes no new requests") : busy(ctx);
        }
        long created = System.currentTimeMillis() / 1000;
        String note = clippedNote(request, job);
        Completion.Event first = nextEvent(job, null);
        if (first instanceof Completion.Failed failed) {
            throw failed.error();
        }
        if (request.stream()) {
            stream(ctx, job, first, request, created, arrived, note);
        } else {
            respond(ctx, job, first, request, created, arrived, note);
        }
    }

    /** A note for the response when max_tokens was more than the context leaves after the prompt, else null. */
    private String clippedNote(ChatRequest request, Completion job) {
        Integer wanted = request.maxTokens();
        int budget = job.options.maxNewTokens();
        if (wanted == null || wanted <= budget) {
            return null;
        }
        return "max_tokens " + wanted + " was clipped to " + budget + ": the model's context holds "
                + vl.config().language().maxPositions() + " tokens and the prompt takes " + job.prompt.inputIds().length;
    }

    /** Parsed request → prompt and budget, or an ApiException naming what is wrong. */
    private Completion prepare(ChatRequest request) {
        int context = vl.config().language().maxPositions();
        int imageTokens = vl.config().chatProcessor().numImageTokens();
        long imageSpan = (long) request.imageCount() * imageTokens;
        if (imageSpan >= context) {
            throw ApiException.contextExceeded(request.imageCount() + " images take " + imageSpan
                    + " tokens (" + imageTokens + " each) but the model's context holds " + context);
        }
        Prompt prompt;
        try {
            prompt = vl.prompt(messages(request), request.systemPrompt() == null ? ChatTemplate.DEFAULT_SYSTEM_PROMPT
                    : request.systemPrompt());
        } catch (InvalidInputException e) {
            throw ApiException.invalid(e.getMessage(), "messages");
        }
        int length = prompt.inputIds().length;
        if (length >= context) {
            throw ApiException.contextExceeded("the prompt is " + length + " tokens but the model's context holds " + context
                    + " (images count " + imageTokens + " tokens each)");
        }
        int wanted = request.maxTokens() != null ? request.maxTokens() : config.defaultMaxTokens();
        int budget = Math.min(wanted, context - length);            // clipped to what fits
        SamplingOptions options = new SamplingOptions(budget, request.temperature(), request.topK(), request.topP(),
                request.repetitionPenalty(), request.seed());
        return new Completion("chatcmpl-" + UUID.randomUUID().toString().replace("-", ""), prompt, options, request.stop());
    }

    /**
     * The template's turns: text parts joined, each image part an image tag at its place, so the text around an
     * image reads as in the official examples ({@code <image_placeholder>Describe this image.}).
     */
    private List<Message> messages(ChatRequest request) {
        String tag = vl.config().chatProcessor().imageTag();
        List<Message> out = ChatMessages.of(request, tag, images::fetch);
        return out;
    }

    private void respond(Context ctx, Completion job, Completion.Event event, ChatRequest request, long created, long arrived,
                         String note)
            throws InterruptedException {
        while (!(event instanceof Completion.Done)) {
            if (event instanceof Completion.Failed failed) {
                throw failed.error();
            }
            event = nextEvent(job, null);
        }
        Completion.Done done = (Completion.Done) event;
        finished(ctx, job, done, arrived);
        ObjectNode body = ChatResponses.completion(job.id, created, config.modelId(), done.text(), done.finishReason(),
                done.promptTokens(), done.cachedTokens(), done.completionTokens());
        if (request.returnTokenIds()) {
            ChatResponses.tokenIds(body, done.tokenIds());
        }
        if (note != null) {
            body.putArray("notes").add(note);
        }
        // written and completed here rather than handed to Javalin, so the request is answered when this handler returns
        // (a draining server stops once no handler runs)
        byte[] bytes = ChatResponses.write(body).getBytes(StandardCharsets.UTF_8);
        var res = ctx.res();
        ctx.status(200);
        res.setContentType("application/json");
        res.setContentLength(bytes.length);
        try (var out = res.getOutputStream()) {
            out.write(bytes);
        } catch (IOException e) {
            ctx.attribute(STATUS_OVERRIDE, CLIENT_CLOSED);
        }
    }

    private void stream(Context ctx, Completion job, Completion.Event event, ChatRequest request, long created, long arrived,
                        String note) throws InterruptedException {
        boolean includeUsage = request.includeUsage();
        ctx.status(200);
        var res = ctx.res();
        res.setContentType("text/event-stream; charset=utf-8");
        res.setHeader("Cache-Control", "no-cache");
        res.setHeader("X-Accel-Buffering", "no");
        String model = config.modelId();
        try {
            SseWriter sse = new SseWriter(res.getOutputStream());
            ObjectNode opening = ChatResponses.chunk(job.id, created, model, "assistant", "", null, includeUsage);
            if (note != null) {
                opening.putArray("notes").add(note);
            }
            sse.data(ChatResponses.write(opening));
            while (true) {
                switch (event) {
                    case Completion.Text t ->
                            sse.data(ChatResponses.write(ChatResponses.chunk(job.id, created, model, null, t.text(), null, includeUsage)));
                    case Completion.Done done -> {
                        finished(ctx, job, done, arrived);
                        ObjectNode last = ChatResponses.chunk(job.id, created, model, null, null, done.finishReason(), includeUsage);
                        if (request.returnTokenIds()) {
                            ChatResponses.tokenIds(last, done.tokenIds());
                        }
                        sse.data(ChatResponses.write(last));
                        if (includeUsage) {
                            sse.data(ChatResponses.write(ChatResponses.usageChunk(job.id, created, model, done.promptTokens(), done.cachedTokens(),
                                    done.completionTokens())));
                        }
                        sse.done();
                        return;
                    }
                    case Completion.Failed failed -> {
                        // headers are sent: the error travels as an event, as OpenAI's streams do
                        ctx.attribute(STATUS_OVERRIDE, failed.error().status);
                        sse.data(ChatResponses.write(ChatResponses.error(failed.error())));
                        sse.done();
                        return;
                    }
                }
                event = nextEvent(job, sse);
            }
        } catch (IOException e) {
            job.cancel();                                 // the decode thread frees the slot at its next step
            ctx.attribute(STATUS_OVERRIDE, CLIENT_CLOSED);
        }
    }

    /** Waits for the job's next event; while streaming, a comment every 15 s keeps idle connections open. */
    private static Completion.Event nextEvent(Completion job, SseWriter sse) throws InterruptedException {
        while (true) {
            Completion.Event e = job.next(15, TimeUnit.SECONDS);
            if (e != null) {
                return e;
            }
            if (sse != null) {
                try {
                    sse.comment("waiting");
                } catch (IOException io) {
                    job.cancel();
                    return new Completion.Failed(new ApiException(CLIENT_CLOSED, "client_closed", "client disconnected", null, null));
                }
            }
        }
    }

    private void finished(Context ctx, Completion job, Completion.Done done, long arrived) {
        long now = System.nanoTime();
        double ttft = job.firstTokenNanos == 0 ? Double.NaN : (job.firstTokenNanos - arrived) / 1e9;
        metrics.completion(done.promptTokens(), done.completionTokens(), (now - arrived) / 1e9, ttft);
        ctx.attribute(TOKENS, "prompt=" + done.promptTokens() + " completion=" + done.completionTokens()
                + " finish=" + done.finishReason());
    }

    private ApiException busy(Context ctx) {
        ctx.header("Retry-After", Integer.toString(retryAfterSeconds()));
        return ApiException.busy("the server is at capacity (" + scheduler.maxBatch() + " decoding, " + scheduler.queued()
                + " waiting); retry later");
    }

    /** A guess for Retry-After: the average request time times the queue's depth per batch slot, at least 1 s. */
    private int retryAfterSeconds() {
        return Math.max(1, (int) Math.ceil(metrics.averageLatencySeconds() * (scheduler.queued() + 1) / scheduler.maxBatch()));
    }
}
