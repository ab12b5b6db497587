package ai.vl4j.train.io;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** JSON text as Python's json.dumps writes it (the expected strings are CPython 3's output for the same values). */
class PythonJsonTest {
    @Test
    void floatsAreWrittenAsPythonsRepr() {
        double[] values = {0.0, -0.0, 1e-05, 0.0001, 8.0, 1e16, 1e15, 0.1, 1.0 / 3, 5e-324, -2.5, 123456789.123,
                Double.MAX_VALUE, 0.002, 1.5e-07, Math.ulp(1.0), 100.0, 12345678901234567.0, 0.00012345, -1e-100,
                0.9397114317029974, 4.698557158514987e-4, 3e-05, 1234.5e10, Double.NaN, Double.POSITIVE_INFINITY};
        String[] python = {"0.0", "-0.0", "1e-05", "0.0001", "8.0", "1e+16", "1000000000000000.0", "0.1", "0.3333333333333333",
                "5e-324", "-2.5", "123456789.123", "1.7976931348623157e+308", "0.002", "1.5e-07", "2.220446049250313e-16", "100.0",
                "1.2345678901234568e+16", "0.00012345", "-1e-100", "0.9397114317029974", "0.0004698557158514987", "3e-05",
                "12345000000000.0", "NaN", "Infinity"};
        for (int i = 0; i < values.length; i++) {
            assertEquals(python[i], PythonJson.number(values[i]), "repr of " + values[i]);
        }
    }

    /** Whatever the digits, the text reads back to the same double (Python's repr round-trips). */
    @Test
    void writtenFloatsReadBackExactly() {
        Random r = new Random(5);
        for (int i = 0; i < 20_000; i++) {
            double x = Double.longBitsToDouble(r.nextLong());
            if (Double.isNaN(x)) {
                continue;
            }
            assertEquals(Double.doubleToLongBits(x), Double.doubleToLongBits(Double.parseDouble(PythonJson.number(x))), "" + x);
        }
    }

    @Test
    void prettyIsIndentTwoWithSortedKeysAndAsciiEscapes() throws Exception {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.putArray("b").add(1).addObject();
        o.put("a", "é\u2028\u0001\"\\/ \ud83d\ude00");
        o.putArray("c");
        o.putObject("d").putNull("z").put("y", true);
        assertEquals("""
                {
                  "a": "\\u00e9\\u2028\\u0001\\"\\\\/ \\ud83d\\ude00",
                  "b": [
                    1,
                    {}
                  ],
                  "c": [],
                  "d": {
                    "y": true,
                    "z": null
                  }
                }""", PythonJson.pretty(o));
        ObjectNode line = new ObjectMapper().createObjectNode();
        line.put("step", 3).put("loss", Double.NaN).put("x", Double.POSITIVE_INFINITY).putArray("l").add(1).add(2);
        assertEquals("{\"step\": 3, \"loss\": NaN, \"x\": Infinity, \"l\": [1, 2]}", PythonJson.line(line));
    }
}
