package ai.vl4j.text;

import static ai.vl4j.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.vl4j.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The 80 official tokenizer vectors (46 from llama.cpp, 34 extra), decoding, streaming and long prompts. */
class TokenizerTest {
    static Tokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = Fixtures.tokenizer();
    }

    static Stream<Arguments> vectors() {
        List<Arguments> out = new ArrayList<>();
        for (JsonNode c : Fixtures.json(Fixtures.TESTDATA.resolve("tokenizer/TEST_VECTORS.json")).get("cases")) {
            out.add(Arguments.of(c.get("name").asText(), c));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectors")
    void officialVector(String name, JsonNode c) {
        String text = c.get("text").asText();
        boolean bos = c.get("bos_added").asBoolean();
        int[] want = ints(c.get("ids"));
        int[] ids = tokenizer.encode(text, bos);
        assertArrayEquals(want, ids, name + ": ids");
        // with and without BOS differ by exactly the BOS id
        int[] other = tokenizer.encode(text, !bos);
        assertEquals(ids.length + (bos ? -1 : 1), other.length);
        for (int i = 0; i < want.length; i++) {
            assertEquals(c.get("tokens").get(i).asText(), tokenizer.tokenString(want[i]), name + ": token " + i);
        }
        assertEquals(c.get("decoded").asText(), tokenizer.decode(want, false), name + ": decode");
        assertEquals(c.get("decoded_skip_special").asText(), tokenizer.decode(want, true), name + ": decode skipping specials");

        StreamDecoder stream = tokenizer.streamDecoder(true);
        StringBuilder pieces = new StringBuilder();
        for (int id : want) {
            pieces.append(stream.next(id));
        }
        pieces.append(stream.finish());
        assertEquals(c.get("decoded_skip_special").asText(), pieces.toString(), name + ": streamed pieces");
    }

    @Test
    void readmePromptIs628TokensOnceExpanded() {
        String prompt = ChatTemplate.render(List.of(Message.user("<image_placeholder>Describe each stage of this image.")),
                ChatTemplate.DEFAULT_SYSTEM_PROMPT);
        int[] ids = tokenizer.encode(prompt, true);
        int[] head = {100000, 2054, 418, 245, 9394, 4706, 285, 10046, 20308, 13, 1257, 418, 2249, 276, 2579, 254, 7959,
                3093, 344, 254, 2677, 4614, 11, 285, 4750, 254, 2677, 366, 245, 6265, 280, 9224, 1244, 3892, 4706, 13, 185,
                185, 5726, 25, 207};
        int[] tail = {41800, 1319, 6351, 280, 437, 3324, 13, 185, 185, 77398, 25};
        assertEquals(head.length + 1 + tail.length, ids.length);
        assertArrayEquals(head, java.util.Arrays.copyOf(ids, head.length));
        assertEquals(100015, ids[head.length]);
        assertArrayEquals(tail, java.util.Arrays.copyOfRange(ids, head.length + 1, ids.length));
        assertEquals(628, ids.length - 1 + 576);
    }

    /** DJL's binding truncates to 512 tokens unless told not to; prompts with images are longer. */
    @Test
    void longTextIsNeverTruncated() {
        String text = "The quick brown fox jumps over the lazy dog. ".repeat(400);
        int[] ids = tokenizer.encode(text, true);
        assertTrue(ids.length > 3000, "only " + ids.length + " ids");
        assertEquals(text, tokenizer.decode(ids, true));
    }

    @Test
    void specialIds() {
        assertEquals(100000, tokenizer.bosId());
        assertEquals(100001, tokenizer.eosId());
        assertEquals(100015, tokenizer.addedTokenId(Tokenizer.IMAGE_TAG));
        assertEquals(100016, tokenizer.size());
        assertEquals("", tokenizer.decode(new int[] {100020, 102399}, false), "embedding padding rows decode to nothing");
    }

    @Test
    void streamingHoldsSplitCharacters() {
        int[] ids = tokenizer.encode("猫が好き 🐱", false);
        StreamDecoder stream = tokenizer.streamDecoder(true);
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            String piece = stream.next(id);
            assertTrue(piece.indexOf('\uFFFD') < 0, "piece with a replacement character: " + piece);
            out.append(piece);
        }
        assertEquals("猫が好き 🐱", out.append(stream.finish()).toString());
    }

    @Test
    void multiTurnTemplate() {
        String prompt = ChatTemplate.render(List.of(Message.user("  Hi \n"), Message.assistant("Hello!"), Message.user("Bye")), "SYS");
        assertEquals("SYS\n\nUser: Hi\n\nAssistant: Hello!<｜end▁of▁sentence｜>User: Bye\n\nAssistant:", prompt);
    }
}
