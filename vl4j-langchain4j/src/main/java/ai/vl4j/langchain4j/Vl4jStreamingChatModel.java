package ai.vl4j.langchain4j;

import ai.vl4j.server.Completion;
import ai.vl4j.server.LocalEngine;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;
import java.util.concurrent.TimeUnit;

/**
 * DeepSeek-VL as a LangChain4j {@link StreamingChatModel}, in this JVM: the answer is handed to the handler piece by
 * piece as it is decoded (pieces never split a UTF-8 character), then the complete response; a request vl4j cannot
 * take, or a failure, goes to {@code onError}. The handler is called on a virtual thread of this model's, one request
 * at a time; cancelling through the {@link StreamingHandle} of a partial response stops the decoding at the next step.
 */
public final class Vl4jStreamingChatModel implements StreamingChatModel {
    private final LocalEngine engine;
    private final ChatRequestParameters defaults;

    public Vl4jStreamingChatModel(LocalEngine engine) {
        this(engine, DefaultChatRequestParameters.EMPTY);
    }

    /** @param defaults parameters for requests that leave them out (max output tokens, temperature, ...) */
    public Vl4jStreamingChatModel(LocalEngine engine, ChatRequestParameters defaults) {
        this.engine = engine;
        this.defaults = defaults;
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        String id = Requests.newId();
        Completion job;
        try {
            job = Requests.completion(engine, request, id);
        } catch (RuntimeException e) {
            handler.onError(e);
            return;
        }
        Handle handle = new Handle(job);
        Thread.ofVirtual().name("vl4j-stream-" + id).start(() -> relay(job, id, handle, handler));
    }

    private void relay(Completion job, String id, Handle handle, StreamingChatResponseHandler handler) {
        try {
            engine.submit(job);
            while (!handle.isCancelled()) {
                Completion.Event e = job.next(1, TimeUnit.SECONDS);
                switch (e) {
                    case null -> { }
                    case Completion.Text t -> handler.onPartialResponse(new PartialResponse(t.text()), new PartialResponseContext(handle));
                    case Completion.Done done -> {
                        handler.onCompleteResponse(Requests.response(id, done, engine.model().folder().getFileName().toString()));
                        return;
                    }
                    case Completion.Failed failed -> {
                        handler.onError(Requests.failure(failed));
                        return;
                    }
                }
            }
        } catch (InterruptedException e) {
            job.cancel();
            handler.onError(e);
        } catch (RuntimeException e) {
            job.cancel();                                  // the handler threw: stop decoding for it
            handler.onError(e);
        }
    }

    /** Cancels the completion: the scheduler drops it at its next step, and no more callbacks are made. */
    private record Handle(Completion job) implements StreamingHandle {
        @Override
        public void cancel() {
            job.cancel();
        }

        @Override
        public boolean isCancelled() {
            return job.cancelled();
        }
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return defaults;
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }
}
