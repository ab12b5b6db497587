package ai.vl4j.train.io;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * JSON text as Python's {@code json.dumps} writes it, so the files the Python tools read are the files they would
 * have written themselves:
 * <pre>
 *   pretty(node)  = json.dumps(node, indent=2, sort_keys=True)      adapter_config.json (PEFT),
 *                                                                   model.safetensors.index.json and
 *                                                                   trainer_state.json (transformers, + "\n")
 *   line(node)    = json.dumps(node)                                one metrics.jsonl record (keys in the given order)
 * </pre>
 * Both escape non-ASCII characters as {@code \\uXXXX} ({@code ensure_ascii=True}); floating-point numbers are
 * Python's {@code repr}: the shortest digits that read back to the same double, fixed notation for decimal exponents
 * -4 to 15 ({@code 0.0001}, {@code 8.0}), scientific otherwise ({@code 1e-05}, {@code 1e+16}); NaN and infinities
 * as Python writes them ({@code NaN}, {@code Infinity}, {@code -Infinity}). Integral numbers stay integers.
 */
public final class PythonJson {
    private PythonJson() {
    }

    /** {@code json.dumps(node, indent=2, sort_keys=True)}: no trailing newline. */
    public static String pretty(JsonNode node) {
        StringBuilder out = new StringBuilder();
        write(node, out, true, 0, true);
        return out.toString();
    }

    /** {@code json.dumps(node)}: one line, separators {@code ", "} and {@code ": "}, keys in the node's order. */
    public static String line(JsonNode node) {
        StringBuilder out = new StringBuilder();
        write(node, out, false, 0, false);
        return out.toString();
    }

    private static void write(JsonNode node, StringBuilder out, boolean indent, int depth, boolean sortKeys) {
        switch (node.getNodeType()) {
            case OBJECT -> {
                if (node.isEmpty()) {
                    out.append("{}");
                    return;
                }
                List<String> keys = new ArrayList<>();
                node.fieldNames().forEachRemaining(keys::add);
                if (sortKeys) {
                    keys.sort(PythonJson::compareCodePoints);
                }
                out.append('{');
                for (int i = 0; i < keys.size(); i++) {
                    separator(out, indent, depth + 1, i == 0);
                    string(keys.get(i), out);
                    out.append(": ");
                    write(node.get(keys.get(i)), out, indent, depth + 1, sortKeys);
                }
                close(out, indent, depth, '}');
            }
            case ARRAY -> {
                if (node.isEmpty()) {
                    out.append("[]");
                    return;
                }
                out.append('[');
                Iterator<JsonNode> it = node.elements();
                for (int i = 0; it.hasNext(); i++) {
                    separator(out, indent, depth + 1, i == 0);
                    write(it.next(), out, indent, depth + 1, sortKeys);
                }
                close(out, indent, depth, ']');
            }
            case STRING -> string(node.textValue(), out);
            case BOOLEAN -> out.append(node.booleanValue() ? "true" : "false");
            case NULL, MISSING -> out.append("null");
            case NUMBER -> {
                if (node.isIntegralNumber()) {
                    out.append(node.bigIntegerValue());
                } else {
                    out.append(number(node.doubleValue()));
                }
            }
            default -> throw new IllegalArgumentException("cannot write a JSON node of type " + node.getNodeType());
        }
    }

    private static void separator(StringBuilder out, boolean indent, int depth, boolean first) {
        if (!first) {
            out.append(indent ? "," : ", ");
        }
        if (indent) {
            out.append('\n').append("  ".repeat(depth));
        }
    }

    private static void close(StringBuilder out, boolean indent, int depth, char bracket) {
        if (indent) {
            out.append('\n').append("  ".repeat(depth));
        }
        out.append(bracket);
    }

    /** Python sorts str keys by code point; Java's String order is by UTF-16 unit (they differ past U+FFFF). */
    private static int compareCodePoints(String a, String b) {
        return java.util.Arrays.compare(a.codePoints().toArray(), b.codePoints().toArray());
    }

    private static void string(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || c >= 0x80) {
                        out.append(String.format("\\u%04x", (int) c));   // UTF-16 units: surrogate pairs as two escapes
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /**
     * Java gives two digits where one would do and two are closer (only for subnormals such as 4.9E-324, which Python
     * writes 5e-324): the one-digit decimal that reads back to x, if there is one.
     */
    private static BigDecimal oneDigit(BigDecimal twoDigits, double x) {
        BigDecimal down = twoDigits.round(new java.math.MathContext(1, java.math.RoundingMode.DOWN));
        BigDecimal up = twoDigits.round(new java.math.MathContext(1, java.math.RoundingMode.UP));
        BigDecimal exact = new BigDecimal(x);
        BigDecimal best = null;
        for (BigDecimal c : new BigDecimal[] {down, up}) {
            if (c.doubleValue() == x && (best == null || c.subtract(exact).abs().compareTo(best.subtract(exact).abs()) < 0)) {
                best = c;
            }
        }
        return best == null ? twoDigits : best.stripTrailingZeros();
    }

    /** Python's {@code repr(float)}. */
    public static String number(double x) {
        if (Double.isNaN(x)) {
            return "NaN";
        }
        if (Double.isInfinite(x)) {
            return x > 0 ? "Infinity" : "-Infinity";
        }
        String sign = (Double.doubleToRawLongBits(x) < 0) ? "-" : "";
        if (x == 0) {
            return sign + "0.0";
        }
        // Double.toString gives the shortest decimal that reads back to x (JDK 19+); keep its digits only
        BigDecimal d = new BigDecimal(Double.toString(Math.abs(x))).stripTrailingZeros();
        if (d.precision() == 2) {
            d = oneDigit(d, Math.abs(x));
        }
        String digits = d.unscaledValue().toString();
        int point = digits.length() - d.scale();   // x = 0.digits × 10^point
        if (point > -4 && point <= 16) {
            if (point <= 0) {
                return sign + "0." + "0".repeat(-point) + digits;
            }
            if (point >= digits.length()) {
                return sign + digits + "0".repeat(point - digits.length()) + ".0";
            }
            return sign + digits.substring(0, point) + "." + digits.substring(point);
        }
        int exponent = point - 1;
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (Math.abs(exponent) < 10 ? "0" : "") + Math.abs(exponent);
    }
}
