package ai.vl4j.vlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.generate.GenerationResult;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.generate.TokenListener;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import ai.vl4j.text.Message;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Keeping a conversation's KV cache between turns: only new ids run, and the answers are the fresh ones. */
class ChatStateTest {
    static DeepSeekVl vl;
    static RgbImage dog;
    static RgbImage synth;

    @BeforeAll
    static void load() {
        vl = DeepSeekVl.load(Fixtures.TINY_13B_MODEL);
        dog = ImageLoader.load(Fixtures.TINY_13B.resolve("images/dog_a.png"));
        synth = ImageLoader.load(Fixtures.TINY_13B.resolve("images/synth_640x427_q90.jpg"));
    }

    @AfterAll
    static void close() {
        vl.close();
    }

    static GenerationResult fresh(List<Message> messages, int maxNew) {
        return vl.generate(vl.prompt(messages), SamplingOptions.GREEDY.withMaxNewTokens(maxNew), TokenListener.NONE);
    }

    static GenerationResult cached(List<Message> messages, int maxNew, ChatState state) {
        return vl.generate(vl.prompt(messages), SamplingOptions.GREEDY.withMaxNewTokens(maxNew), TokenListener.NONE, state);
    }

    @Test
    void laterTurnsRunOnlyWhatIsNewAndAnswerAsAFreshRun() {
        ChatState state = new ChatState();
        List<Message> history = new ArrayList<>(List.of(Message.user("Describe this image.", dog)));
        GenerationResult first = cached(history, 24, state);
        assertArrayEquals(fresh(history, 24).tokenIds(), first.tokenIds());
        assertEquals(0.0, first.timings().get("cached_prompt_tokens"));
        int prompt1 = first.promptTokens();
        assertEquals(prompt1 + 23, state.cachedTokens(), "the prompt and every generated token but the last, never fed back");

        history.add(Message.assistant(first.text()));
        history.add(Message.user("And what colour is the background?"));
        GenerationResult second = cached(history, 24, state);
        assertArrayEquals(fresh(history, 24).tokenIds(), second.tokenIds());
        double reused = second.timings().get("cached_prompt_tokens");
        assertTrue(reused >= prompt1 && reused <= prompt1 + 23, "the first turn's prompt and answer are reused: " + reused);
        assertFalse(second.timings().containsKey("vision_s"), "the image was not encoded again");

        // a third turn with a new image, long enough to move the cache to a larger one (capacity 1024 → 1536)
        history.add(Message.assistant(second.text()));
        history.add(Message.user("Compare it with this one.", synth));
        GenerationResult third = cached(history, 300, state);
        assertArrayEquals(fresh(history, 300).tokenIds(), third.tokenIds());
        assertTrue(third.timings().get("vision_s") > 0, "the new image is encoded");
        assertTrue(third.timings().get("cached_prompt_tokens") > prompt1);
    }

    @Test
    void aDivergingConversationFallsBackToTheCommonPrefix() {
        ChatState state = new ChatState();
        List<Message> turn1 = List.of(Message.user("Describe this image.", dog));
        GenerationResult first = cached(turn1, 8, state);

        // another image at the same place: the placeholder ids are equal, the pixels are not, so reuse stops there
        List<Message> other = List.of(Message.user("Describe this image.", synth));
        GenerationResult again = cached(other, 8, state);
        assertArrayEquals(fresh(other, 8).tokenIds(), again.tokenIds());
        assertEquals(vl.prompt(other).imageStarts()[0], again.timings().get("cached_prompt_tokens"),
                "reused up to the image, not into it");
        // the same picture decoded again (another object, equal pixels) is recognised
        List<Message> same = List.of(Message.user("Describe this image.", ImageLoader.load(Fixtures.TINY_13B.resolve(
                "images/synth_640x427_q90.jpg"))), Message.assistant(again.text()), Message.user("Why?"));
        GenerationResult why = cached(same, 8, state);
        assertArrayEquals(fresh(same, 8).tokenIds(), why.tokenIds());
        assertFalse(why.timings().containsKey("vision_s"));

        // the first conversation again, its second turn: the cache was overwritten, the answer still fresh
        List<Message> back = List.of(Message.user("Describe this image.", dog), Message.assistant(first.text()),
                Message.user("More detail, please."));
        assertArrayEquals(fresh(back, 8).tokenIds(), cached(back, 8, state).tokenIds());

        state.reset();
        assertEquals(0, state.cachedTokens());
    }
}
