package ai.vl4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.vl4j.Fixtures;
import ai.vl4j.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The CLIP (byte-level BPE with {@code </w>}) and SigLIP (Unigram) tokenizers: ids exactly as the fixtures give them. */
class TowerTokenizerTest {

    /** The unpadded ids of each label text equal the fixture's ids up to its attention mask (or real-token count). */
    @Test
    void siglipLabelTexts() {
        JsonNode cases = Fixtures.json(Fixtures.ZEROSHOT_SIGLIP.resolve("expected/cases.json"));
        Tensor ids = Fixtures.expected(Fixtures.ZEROSHOT_SIGLIP.resolve("expected/siglip.safetensors"), "input_ids");
        try (TowerTokenizer tok = TowerTokenizer.load(Fixtures.ZEROSHOT_SIGLIP.resolve("model"))) {
            int width = (int) ids.dim(1);
            assertEquals(width, tok.modelMaxLength(), "model_max_length = the padded width of the fixture");
            for (int i = 0; i < cases.get("texts").size(); i++) {
                int[] got = tok.encode(cases.get("texts").get(i).asText()).ids();
                int real = cases.get("n_real_tokens_incl_eos").get(i).asInt();
                assertArrayEquals(row(ids, i, real), got, cases.get("texts").get(i).asText());
                for (int j = real; j < width; j++) {
                    assertEquals(ids.getLong((long) i * width + j), tok.padId(), "pad id");
                }
                assertArrayEquals(Fixtures.ints(cases.get("input_ids").get(i)), row(ids, i, width));
            }
        }
    }

    @Test
    void clipLabelTextsAndTokenizerCases() {
        JsonNode cases = Fixtures.json(Fixtures.ZEROSHOT_CLIP.resolve("expected/cases.json"));
        Tensor ids = Fixtures.expected(Fixtures.ZEROSHOT_CLIP.resolve("expected/clip.safetensors"), "input_ids");
        Tensor mask = Fixtures.expected(Fixtures.ZEROSHOT_CLIP.resolve("expected/clip.safetensors"), "attention_mask");
        try (TowerTokenizer tok = TowerTokenizer.load(Fixtures.ZEROSHOT_CLIP.resolve("model"))) {
            assertEquals(cases.get("pad_token_id").asInt(), tok.padId());
            int width = (int) ids.dim(1);
            for (int i = 0; i < cases.get("texts").size(); i++) {
                TowerTokenizer.Encoded got = tok.encode(cases.get("texts").get(i).asText());
                int real = 0;
                for (int j = 0; j < width; j++) {
                    real += (int) mask.getLong((long) i * width + j);
                }
                assertArrayEquals(row(ids, i, real), got.ids(), cases.get("texts").get(i).asText());
                assertEquals(withBosEos(cases.get("tokens").get(i), got.tokens()), got.tokens());
            }
            for (JsonNode c : cases.get("tokenizer_cases")) {
                TowerTokenizer.Encoded got = tok.encode(c.get("text").asText());
                assertArrayEquals(Fixtures.ints(c.get("ids")), got.ids(), c.get("text").asText());
                assertEquals(withBosEos(c.get("tokens"), got.tokens()), got.tokens(), c.get("text").asText());
            }
            System.out.println("OK " + cases.get("tokenizer_cases").size() + " CLIP tokenizer cases, ids and tokens exact");
        }
    }

    private static int[] row(Tensor ids, int i, int count) {
        int[] out = new int[count];
        for (int j = 0; j < count; j++) {
            out[j] = (int) ids.getLong(i * ids.dim(1) + j);
        }
        return out;
    }

    /** The fixture's tokens (without the special tokens) framed by the first and last token we produced. */
    private static List<String> withBosEos(JsonNode tokens, List<String> got) {
        List<String> out = new ArrayList<>(List.of(got.getFirst()));
        tokens.forEach(t -> out.add(t.asText()));
        out.add(got.getLast());
        assertEquals(Arrays.asList("<|startoftext|>", "<|endoftext|>"), List.of(got.getFirst(), got.getLast()));
        return out;
    }
}
