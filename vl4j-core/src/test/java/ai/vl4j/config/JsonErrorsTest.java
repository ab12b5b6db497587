package ai.vl4j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every kind of JSON syntax error is told in our words, with its line and column, and none of Jackson's internals. */
class JsonErrorsTest {
    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    static String describe(byte[] json) {
        JacksonException e = assertThrows(JacksonException.class, () -> JSON.readTree(json));
        return JsonErrors.describe(e);
    }

    static String describe(String json) {
        return describe(json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void messagesSayWhatAndWhere() {
        assertEquals("the JSON ends before the array opened at line 1, column 14 is closed at line 1, column 15",
                describe("{\"messages\": ["));
        assertEquals("unexpected character 'x' (expected a double-quote to start a field name) at line 2, column 2", describe("{\n x:1}"));
        assertEquals("']' where '}' should close the object opened at line 1, column 1 at line 1, column 7", describe("{\"a\":1]"));
        assertEquals("unexpected character '}' (expected a value: a string, number, array, object, true, false or null) at line 1, column 6",
                describe("{\"a\":}"));
        assertEquals("unrecognized word 'tru' (expected a value: a string, number, array, object, true, false or null) at line 1, column 6",
                describe("{\"a\":tru}"));
        assertEquals("the JSON ends inside a string (no closing double quote) at line 1, column 8", describe("{\"a\":\"b"));
        assertEquals("control character 9 inside a string (write it as an escape, e.g. \\n or \\t) at line 1, column 8",
                describe("{\"a\":\"x\ty\"}"));
        assertEquals("unrecognized word 'x' (expected a value: a string, number, array, object, true, false or null) at line 1, column 9",
                describe("{\"a\":1} x"));
    }

    @Test
    void noParserInternalsInAnyMessage() {
        List<String> bad = List.of("{\"a\" 1}", "{\"a\":1 \"b\":2}", "[1 2]", "[1}", "{\"a\":01}", "{\"a\":-}", "{\"a\":1.}",
                "{\"a\":\"\\q\"}", "{\"a\":NaN}", "{'a':1}", "{\"a\":1,}", "[1,]", "{\"a\":\"\\u12\"}", "/* c */ {}", "{\"a\":1} {}",
                "[".repeat(1500), "{\"a\":" + "1".repeat(2000) + "}", "");
        for (String json : bad) {
            String message = json.isEmpty() ? describe(new byte[] {'{', '"', 'a', '"', ':', '"', (byte) 0xff, '"', '}'}) : describe(json);
            for (String internal : List.of("Source:", "REDACTED", "StreamReadConstraints", "Feature", "`", "code 1", "JSON String")) {
                assertFalse(message.contains(internal), json + " → " + message);
            }
            assertFalse(message.isBlank(), json);
        }
        assertTrue(describe("[".repeat(1500)).contains("nested deeper than 1000 levels"));
        assertTrue(describe("{\"a\":" + "1".repeat(2000) + "}").contains("a number is longer than 1000 digits"));
    }
}
