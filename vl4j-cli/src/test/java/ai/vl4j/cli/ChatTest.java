package ai.vl4j.cli;

import static ai.vl4j.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.generate.FinishReason;
import ai.vl4j.generate.GenerationResult;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.text.ChatTemplate;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.vlm.Prompt;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code vl4j chat} driven through stdin on the tiny 1.3B fixture, greedy so every answer is known. */
class ChatTest {
    static final String IMAGE = Fixtures.TINY_13B.resolve("images/dog_a.png").toString();
    static final int IMAGE_ID = 100015;
    static DeepSeekVl vl;
    static JsonNode golden;   // the fixture's dog_a__en case: "Describe this image." about dog_a.png

    @BeforeAll
    static void load() {
        vl = DeepSeekVl.load(Fixtures.TINY_13B_MODEL);
        golden = Fixtures.json(Fixtures.TINY_13B.resolve("expected/dog_a__en/greedy.json"));
    }

    @AfterAll
    static void close() {
        vl.close();
    }

    record Session(String out, String err, List<Prompt> prompts, List<GenerationResult> results) {
    }

    /** Runs the REPL over the given input lines, greedy, 24 new tokens, the given context. */
    static Session chat(int context, String... lines) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<Prompt> prompts = new ArrayList<>();
        List<GenerationResult> results = new ArrayList<>();
        ChatRepl repl = new ChatRepl(vl, new BufferedReader(new StringReader(String.join("\n", lines) + "\n")),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                SamplingOptions.GREEDY.withMaxNewTokens(24), context, (p, r) -> {
                    prompts.add(p);
                    results.add(r);
                });
        repl.run();
        return new Session(out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8), prompts, results);
    }

    /** ids of a templated text with each image tag expanded to 576 image ids, as the processor does. */
    static int[] expectedIds(String templated) {
        return Arrays.stream(Fixtures.tokenizer().encode(templated, true))
                .flatMap(id -> id == IMAGE_ID ? IntStream.generate(() -> IMAGE_ID).limit(576) : IntStream.of(id)).toArray();
    }

    @Test
    void twoTurnsWithAnImageFollowTheTemplate() throws IOException {
        Session s = chat(4096, "/image " + IMAGE, "Describe this image.", "What is the dog doing?", "/exit");
        assertEquals(2, s.prompts().size(), s.err());
        // turn 1 is exactly the fixture's case: the reference's prompt ids and greedy tokens
        JsonNode prompt = Fixtures.json(Fixtures.TINY_13B.resolve("expected/dog_a__en/prompt.json"));
        assertArrayEquals(ints(prompt.get("input_ids")), s.prompts().get(0).inputIds());
        assertArrayEquals(ints(golden.get("new_tokens")), s.results().get(0).tokenIds());
        // turn 2: the whole history in the deepseek template, the first answer closed by the end-of-sentence text
        String answer = ChatTemplate.pythonStrip(s.results().get(0).text());
        String templated = ChatTemplate.DEFAULT_SYSTEM_PROMPT + "\n\nUser: <image_placeholder>Describe this image.\n\nAssistant: "
                + answer + "<｜end▁of▁sentence｜>User: What is the dog doing?\n\nAssistant:";
        assertArrayEquals(expectedIds(templated), s.prompts().get(1).inputIds());
        assertEquals(1, s.prompts().get(1).images().size(), "the image stays in the history");
        assertTrue(s.out().contains(s.results().get(0).text()) && s.out().contains(s.results().get(1).text()), s.out());
    }

    @Test
    void newAndUndoForgetRounds() throws IOException {
        Session s = chat(4096, "First question?", "Second question?", "/undo", "Third question?", "/new", "Fourth question?", "/exit");
        assertEquals(4, s.prompts().size());
        String first = ChatTemplate.pythonStrip(s.results().get(0).text());
        String third = ChatTemplate.DEFAULT_SYSTEM_PROMPT + "\n\nUser: First question?\n\nAssistant: " + first
                + "<｜end▁of▁sentence｜>User: Third question?\n\nAssistant:";
        assertArrayEquals(expectedIds(third), s.prompts().get(2).inputIds(), "/undo removed the second round");
        String fourth = ChatTemplate.DEFAULT_SYSTEM_PROMPT + "\n\nUser: Fourth question?\n\nAssistant:";
        assertArrayEquals(expectedIds(fourth), s.prompts().get(3).inputIds(), "/new started over");
        assertTrue(s.out().contains("forgot the last round (1 left)"), s.out());
        assertTrue(s.out().contains("new conversation"), s.out());
    }

    @Test
    void typedPlaceholderAsksForThePathLikeTheOfficialCli() throws IOException {
        Session s = chat(4096, "<image_placeholder>Describe this image.", "no-such-file.png", IMAGE, "exit");
        assertEquals(1, s.prompts().size(), s.err());
        assertTrue(s.out().contains("(1/1) image path: "), s.out());
        assertTrue(s.err().contains("no-such-file.png"), "a bad path is reported and asked again: " + s.err());
        assertArrayEquals(ints(golden.get("new_tokens")), s.results().get(0).tokenIds());
    }

    @Test
    void oldestRoundsAreDroppedWhenTheContextIsFull() throws IOException {
        // 660 tokens hold one image round (625 + 24) but not a second question on top of it
        Session s = chat(660, "/image " + IMAGE, "Describe this image.", "And now?", "/exit");
        assertEquals(2, s.prompts().size(), s.err());
        assertTrue(s.err().contains("dropped the 1 oldest round to fit the context of 660 tokens"), s.err());
        String templated = ChatTemplate.DEFAULT_SYSTEM_PROMPT + "\n\nUser: And now?\n\nAssistant:";
        assertArrayEquals(expectedIds(templated), s.prompts().get(1).inputIds());

        Session tooBig = chat(600, "/image " + IMAGE, "Describe this image.", "/exit");
        assertTrue(tooBig.prompts().isEmpty(), tooBig.err());
        assertTrue(tooBig.err().contains("the message needs 625 tokens (each image counts 576) but the context holds 600"), tooBig.err());
    }

    @Test
    void settingsAndBadCommandsKeepTheSessionAlive() throws IOException {
        Session s = chat(4096, "/set temperature 0.7", "/set top_p 2", "/set seed x", "/frobnicate", "/image", "/set max_new_tokens 3",
                "/set temperature 0", "Hi", "/set", "/exit");
        assertTrue(s.err().contains("top-p must be in (0, 1], got 2.0"), s.err());
        assertTrue(s.err().contains("seed: not a number: x"), s.err());
        assertTrue(s.err().contains("unknown command /frobnicate"), s.err());
        assertTrue(s.err().contains("/image needs a file path"), s.err());
        assertEquals(1, s.results().size());
        assertEquals(3, s.results().get(0).tokenIds().length, "max_new_tokens 3 applied");
        assertTrue(s.out().contains("temperature 0.0, top_p 1.0, top_k 50, repetition_penalty 1.0, max_new_tokens 3"), s.out());
    }

    @Test
    void ctrlCStopsTheAnswerNotTheChat() throws IOException {
        List<GenerationResult> results = new ArrayList<>();
        ChatRepl[] repl = new ChatRepl[1];
        // stands in for the terminal: "presses Ctrl-C" as soon as the first answer starts to stream
        OutputStream terminal = new OutputStream() {
            final StringBuilder seen = new StringBuilder();
            boolean pressed;

            @Override
            public void write(int b) {
                seen.append((char) b);
                if (!pressed && seen.indexOf(">>> ") >= 0 && seen.lastIndexOf(">>> ") < seen.length() - 4 && results.isEmpty()) {
                    pressed = repl[0].interrupt();
                }
            }
        };
        repl[0] = new ChatRepl(vl, new BufferedReader(new StringReader("Tell me a story.\nAgain?\n/exit\n")),
                new PrintStream(terminal, true, StandardCharsets.UTF_8), new PrintStream(OutputStream.nullOutputStream()),
                SamplingOptions.GREEDY.withMaxNewTokens(24), 4096, (p, r) -> results.add(r));
        assertFalse(repl[0].interrupt(), "nothing to stop at the prompt");
        repl[0].run();
        assertEquals(2, results.size(), "the chat went on after the stop");
        assertEquals(FinishReason.CANCELLED, results.get(0).finishReason());
        assertTrue(results.get(0).tokenIds().length < 24);
        assertEquals(FinishReason.LENGTH, results.get(1).finishReason());
    }

    @Test
    void chatCommandThroughStdin() {
        String input = String.join("\n", "Describe this image.", "/exit", "");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        InputStream stdin = new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8));
        int code = Main.execute(new String[] {"chat", "-m", Fixtures.TINY_13B_MODEL.toString(), "-i", IMAGE, "--temperature", "0",
                "--max-new-tokens", Integer.toString(golden.get("new_tokens").size())}, stdin,
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        String expected = Fixtures.tokenizer().decode(ints(golden.get("new_tokens")), true);
        String shown = out.toString(StandardCharsets.UTF_8);
        assertTrue(shown.contains(">>> " + expected), "expected [" + expected + "] in [" + shown + "]");
    }
}
