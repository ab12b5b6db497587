package ai.vl4j.langchain4j;

import ai.vl4j.server.Completion;
import ai.vl4j.server.LocalEngine;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;

/**
 * DeepSeek-VL as a LangChain4j {@link ChatModel}, in this JVM: text and image content in, the model's answer out.
 * Calls from several threads decode together in the engine's batch. Usable wherever LangChain4j takes a chat model,
 * AI services included:
 *
 * <pre>{@code
 * try (DeepSeekVl vl = DeepSeekVl.load(Path.of("deepseek-vl-1.3b-chat"));
 *      LocalEngine engine = new LocalEngine(vl, 8, 32, 256L << 20)) {
 *     ChatModel model = new Vl4jChatModel(engine);
 *     String answer = model.chat(UserMessage.from(ImageContent.from(base64Png, "image/png"),
 *             TextContent.from("Describe this image."))).aiMessage().text();
 * }
 * }</pre>
 */
public final class Vl4jChatModel implements ChatModel {
    private final LocalEngine engine;
    private final ChatRequestParameters defaults;

    public Vl4jChatModel(LocalEngine engine) {
        this(engine, DefaultChatRequestParameters.EMPTY);
    }

    /** @param defaults parameters for requests that leave them out (max output tokens, temperature, ...) */
    public Vl4jChatModel(LocalEngine engine, ChatRequestParameters defaults) {
        this.engine = engine;
        this.defaults = defaults;
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        String id = Requests.newId();
        Completion job = Requests.completion(engine, request, id);
        try {
            engine.submit(job);
            Completion.Event end = LocalEngine.result(job);
            if (end instanceof Completion.Failed failed) {
                throw Requests.failure(failed);
            }
            return Requests.response(id, (Completion.Done) end, modelName());
        } catch (InterruptedException e) {
            job.cancel();
            Thread.currentThread().interrupt();
            throw new dev.langchain4j.exception.LangChain4jException("vl4j: interrupted", e);
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

    private String modelName() {
        return engine.model().folder().getFileName().toString();
    }
}
