package ai.vl4j.cli;

import ai.vl4j.Vl4jException;
import ai.vl4j.generate.FinishReason;
import ai.vl4j.generate.GenerationResult;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.generate.TokenListener;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.text.ChatTemplate;
import ai.vl4j.text.Message;
import ai.vl4j.text.Role;
import ai.vl4j.vlm.ChatState;
import ai.vl4j.vlm.Conversation;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.vlm.Prompt;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The interactive chat loop: reads the user's lines, runs slash commands, answers messages with the whole
 * conversation as context (dropping the oldest rounds when the context window is full) and streams the answer.
 * Images come with {@code /image PATH} (for the next message) or, as in the official CLI, by typing
 * {@code <image_placeholder>} in a message, after which the path of each is asked for.
 */
final class ChatRepl {
    /** Sees each answered turn: the prompt the model got and what it generated (tests, transcripts). */
    interface TurnObserver {
        void turn(Prompt prompt, GenerationResult result);
    }

    private static final String HELP = """
            Type a message and press Enter. Commands:
              /image PATH...        attach images to your next message (or type <image_placeholder> in a message)
              /new                  start a new conversation
              /undo                 forget the last question and answer
              /set NAME VALUE       change a setting: temperature, top_p, top_k, repetition_penalty,
                                    max_new_tokens, seed, system (the system prompt); /set alone shows them
              /help                 this help
              /exit                 quit (or Ctrl-D)
            A message that starts with \"\"\" continues until a line that ends with \"\"\".
            Ctrl-C stops the answer being written.""";

    private static final String QUOTES = "\"\"\"";

    private final DeepSeekVl vl;
    private final BufferedReader in;
    private final PrintStream out;
    private final PrintStream err;
    private final int contextLength;
    private final TurnObserver observer;
    private final String imageTag;
    private final Conversation conversation = new Conversation();
    private final ChatState cached = new ChatState();   // the conversation's KV cache: a turn prefills only what is new
    private final List<RgbImage> pendingImages = new ArrayList<>();
    private final List<String> pendingNames = new ArrayList<>();
    private final AtomicBoolean generating = new AtomicBoolean();
    private final AtomicBoolean stop = new AtomicBoolean();
    private SamplingOptions options;

    ChatRepl(DeepSeekVl vl, BufferedReader in, PrintStream out, PrintStream err, SamplingOptions options, int contextLength,
             TurnObserver observer) {
        this.vl = vl;
        this.in = in;
        this.out = out;
        this.err = err;
        this.options = options;
        this.contextLength = contextLength;
        this.observer = observer;
        this.imageTag = vl.config().chatProcessor().imageTag();
    }

    Conversation conversation() {
        return conversation;
    }

    /** Attaches an image to the next message (the --image flag does this before the first one). */
    void attach(String source) {
        RgbImage image = ImageLoader.load(source);
        pendingImages.add(image);
        pendingNames.add(source.startsWith("data:") ? "data URI" : source);
        out.printf("attached %s (%d×%d) to your next message%n", pendingNames.getLast(), image.width(), image.height());
    }

    /**
     * Ctrl-C: stops the answer being generated and returns true; returns false when no answer is being
     * generated (the caller then reminds the user how to quit).
     */
    boolean interrupt() {
        if (generating.get()) {
            stop.set(true);
            return true;
        }
        return false;
    }

    /** The first line a user sees. */
    void greet(String model) {
        out.println("Chatting with " + model + ". /help lists the commands, /exit quits.");
    }

    /** Runs until /exit or the end of input. */
    void run() throws IOException {
        while (true) {
            String line = readMessage();
            if (line == null) {
                out.println();
                return;
            }
            String trimmed = line.strip();
            if (trimmed.isEmpty()) {
                continue;
            }
            try {
                if (trimmed.startsWith("/")) {
                    if (!command(trimmed)) {
                        return;
                    }
                } else if (trimmed.equals("exit")) {   // the official CLI's way out
                    return;
                } else {
                    answer(line);
                }
            } catch (Vl4jException | IllegalArgumentException e) {
                err.println("error: " + e.getMessage());
            } catch (OutOfMemoryError e) {
                cached.reset();   // the conversation's cache is the big allocation: let it go, keep the chat
                err.println("error: out of memory for this conversation (" + conversation.rounds() + " rounds); /new starts"
                        + " over, or give the JVM more heap with VL4J_JAVA_OPTS=-Xmx...");
            }
        }
    }

    /** One message: a line, or a \"\"\"-quoted block of lines. Null at the end of input. */
    private String readMessage() throws IOException {
        out.print(">>> ");
        out.flush();
        String line = in.readLine();
        if (line == null || !line.strip().startsWith(QUOTES)) {
            return line;
        }
        String first = line.strip().substring(3);
        if (first.endsWith(QUOTES)) {
            return first.substring(0, first.length() - QUOTES.length());
        }
        StringBuilder block = new StringBuilder(first);
        while (true) {
            out.print("... ");
            out.flush();
            String next = in.readLine();
            if (next == null) {
                return block.toString();
            }
            String end = next.stripTrailing();
            if (end.endsWith(QUOTES)) {
                return block.append('\n').append(end, 0, end.length() - QUOTES.length()).toString();
            }
            block.append('\n').append(next);
        }
    }

    /** Runs a slash command; false means quit. */
    private boolean command(String line) {
        String[] parts = line.split("\\s+", 3);
        String name = parts[0].toLowerCase(Locale.ROOT);
        switch (name) {
            case "/exit", "/quit", "/bye" -> {
                return false;
            }
            case "/help", "/?" -> out.println(HELP);
            case "/new", "/clear" -> {
                conversation.clear();
                cached.reset();
                pendingImages.clear();
                pendingNames.clear();
                out.println("new conversation");
            }
            case "/undo" -> out.println(conversation.undo()
                    ? "forgot the last round (" + conversation.rounds() + " left)" : "nothing to undo");
            case "/image" -> {
                if (parts.length < 2) {
                    throw new IllegalArgumentException("/image needs a file path");
                }
                for (String path : line.substring(parts[0].length()).strip().split("\\s+")) {
                    attach(path);
                }
            }
            case "/set" -> {
                if (parts.length == 1) {
                    showSettings();
                } else if (parts.length == 3) {
                    set(parts[1].toLowerCase(Locale.ROOT).replace('-', '_'), parts[2].strip());
                } else {
                    throw new IllegalArgumentException("usage: /set NAME VALUE (see /help)");
                }
            }
            default -> throw new IllegalArgumentException("unknown command " + parts[0] + "; /help lists the commands");
        }
        return true;
    }

    private void set(String name, String value) {
        SamplingOptions o = options;
        try {
            options = switch (name) {
                case "temperature" -> new SamplingOptions(o.maxNewTokens(), Float.parseFloat(value), o.topK(), o.topP(), o.repetitionPenalty(), o.seed());
                case "top_p" -> new SamplingOptions(o.maxNewTokens(), o.temperature(), o.topK(), Float.parseFloat(value), o.repetitionPenalty(), o.seed());
                case "top_k" -> new SamplingOptions(o.maxNewTokens(), o.temperature(), Integer.parseInt(value), o.topP(), o.repetitionPenalty(), o.seed());
                case "repetition_penalty" -> new SamplingOptions(o.maxNewTokens(), o.temperature(), o.topK(), o.topP(), Float.parseFloat(value), o.seed());
                case "max_new_tokens", "max_tokens" -> o.withMaxNewTokens(Integer.parseInt(value));
                case "seed" -> new SamplingOptions(o.maxNewTokens(), o.temperature(), o.topK(), o.topP(), o.repetitionPenalty(),
                        value.equals("none") ? null : Long.parseLong(value));
                case "system" -> {
                    conversation.systemPrompt(value.equals("default") ? ChatTemplate.DEFAULT_SYSTEM_PROMPT : value);
                    yield o;
                }
                default -> throw new IllegalArgumentException("unknown setting " + name + "; /help lists them");
            };
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + ": not a number: " + value);
        }
        out.println("set " + name + " = " + value);
    }

    private void showSettings() {
        out.printf(Locale.ROOT, "temperature %s, top_p %s, top_k %d, repetition_penalty %s, max_new_tokens %d, seed %s%n",
                options.temperature(), options.topP(), options.topK(), options.repetitionPenalty(), options.maxNewTokens(),
                options.seed() == null ? "none" : options.seed());
        out.println("context " + contextLength + " tokens; " + conversation.rounds() + " rounds in the conversation");
        out.println("system: " + conversation.systemPrompt());
    }

    /** Answers one user message with the conversation so far, streaming the text. */
    private void answer(String text) throws IOException {
        List<RgbImage> images = new ArrayList<>(pendingImages);
        int tags = count(text, imageTag);
        if (tags > 0 && images.size() > tags) {
            throw new IllegalArgumentException(images.size() + " images are attached but the message has " + tags + " "
                    + imageTag + " tags; attach fewer or add tags");
        }
        while (images.size() < tags) {   // the official CLI asks for a path per typed tag
            out.printf("(%d/%d) image path: ", images.size() + 1, tags);
            out.flush();
            String path = in.readLine();
            if (path == null || path.strip().equals("/exit")) {
                throw new IllegalArgumentException("message dropped: it names " + tags + " images but got " + images.size());
            }
            try {
                images.add(ImageLoader.load(path.strip()));
            } catch (Vl4jException e) {
                err.println("error: " + e.getMessage());
            }
        }
        Message user = new Message(Role.USER, text, images);
        Conversation.Fitted fitted = conversation.fit(user, m -> vl.prompt(m, conversation.systemPrompt()),
                contextLength, options.maxNewTokens());
        if (fitted.roundsDropped() > 0) {
            err.printf("(dropped the %d oldest round%s to fit the context of %d tokens)%n", fitted.roundsDropped(),
                    fitted.roundsDropped() == 1 ? "" : "s", contextLength);
        }
        pendingImages.clear();
        pendingNames.clear();
        stop.set(false);
        generating.set(true);
        // the image encoding and the prompt's prefill take seconds on a CPU: say so until the first token shows
        String working = Streams.quiet() ? "" : "(thinking…)";
        err.print(working);
        err.flush();
        boolean[] cleared = {working.isEmpty()};
        GenerationResult result;
        try {
            result = vl.generate(fitted.prompt(), options, new TokenListener() {
                @Override
                public void onToken(int id, String piece) {
                    if (!cleared[0]) {
                        err.print("\r" + " ".repeat(working.length()) + "\r");
                        err.flush();
                        cleared[0] = true;
                    }
                    out.print(piece);
                    out.flush();
                }

                @Override
                public boolean stopRequested() {
                    return stop.get();
                }
            }, cached);
        } finally {
            generating.set(false);
            if (!cleared[0]) {
                err.print("\r" + " ".repeat(working.length()) + "\r");
            }
        }
        out.println(result.finishReason() == FinishReason.CANCELLED ? " [stopped]" : "");
        if (Streams.verbose()) {
            err.println(Timings.summary(result));
        }
        conversation.add(user, result.text());
        observer.turn(fitted.prompt(), result);
    }

    private static int count(String text, String tag) {
        int n = 0;
        for (int i = text.indexOf(tag); i >= 0; i = text.indexOf(tag, i + tag.length())) {
            n++;
        }
        return n;
    }
}
