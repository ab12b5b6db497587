package ai.vl4j.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Jackson's parse errors in this project's words: what is wrong and where, e.g. {@code unexpected character '}'
 * (expected a value: a string, number, array, object, true, false or null) at line 3, column 14}. The parser's own messages
 * carry its internals ({@code [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); ...]},
 * {@code StreamReadConstraints.getMaxStringLength()}, feature names), which mean nothing to the person who wrote
 * the JSON; none of that is passed on.
 */
public final class JsonErrors {
    private static final String VALUE = "a value: a string, number, array, object, true, false or null";

    /** Jackson's original messages (without location) and what to say instead. */
    private record Rule(Pattern pattern, Function<Matcher, String> say) {
        Rule(String regex, Function<Matcher, String> say) {
            this(Pattern.compile(regex), say);
        }
    }

    private static final List<Rule> RULES = List.of(
            new Rule("Unexpected end-of-input: expected close marker for (Object|Array) \\(start marker at .*?line: (\\d+), column: (\\d+)\\]\\)",
                    m -> "the JSON ends before the " + noun(m.group(1)) + " opened at line " + m.group(2) + ", column " + m.group(3)
                            + " is closed"),
            new Rule("Unexpected end-of-input.*(string|STRING).*", m -> "the JSON ends inside a string (no closing double quote)"),
            new Rule("Unexpected end-of-input.*", m -> "the JSON ends before it is complete"),
            new Rule("Unexpected close marker '(.)': expected '(.)' \\(for (Object|Array) starting at .*?line: (\\d+), column: (\\d+)\\]\\)",
                    m -> "'" + m.group(1) + "' where '" + m.group(2) + "' should close the " + noun(m.group(3)) + " opened at line "
                            + m.group(4) + ", column " + m.group(5)),
            new Rule("Unexpected character \\('(.*?)' \\(code (\\d+)\\)\\): maybe a \\(non-standard\\) comment\\?.*",
                    m -> "unexpected character '" + m.group(1) + "' (JSON has no comments)"),
            new Rule("Unexpected character \\('(.*?)' \\(code (\\d+)\\)\\)( in numeric value)?: (was expecting |expected )?(.*)",
                    m -> "unexpected character " + character(m.group(1), m.group(2)) + (m.group(3) == null ? "" : " in a number")
                            + " (" + (m.group(4) == null ? lower(m.group(5)) : "expected " + expectation(m.group(5))) + ")"),
            new Rule("Unrecognized token '(.*)': was expecting .*",
                    m -> "unrecognized word '" + shorten(m.group(1)) + "' (expected " + VALUE + ")"),
            new Rule("Non-standard token '(.*?)'.*", m -> "'" + m.group(1) + "' is not a JSON number"),
            new Rule("Invalid numeric value: (.*)", m -> "invalid number: " + lower(m.group(1))),
            new Rule("Illegal unquoted character \\(\\((CTRL-CHAR), code (\\d+)\\)\\).*",
                    m -> "control character " + m.group(2) + " inside a string (write it as an escape, e.g. \\n or \\t)"),
            new Rule("Unrecognized character escape '(.*?)' \\(code \\d+\\)", m -> "unknown escape \\" + m.group(1) + " in a string"),
            new Rule("Invalid UTF-8 (.*)", m -> "not valid UTF-8 text (" + m.group(1) + ")"),
            new Rule("Trailing token .*", m -> "more content after the end of the JSON value"));

    private JsonErrors() {
    }

    /** "what is wrong at line L, column C" (without the location when the parser has none). */
    public static String describe(JacksonException e) {
        JsonLocation at = e.getLocation();
        return what(e) + (at == null || at.getLineNr() < 1 ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr());
    }

    /** What is wrong, without the location. */
    static String what(JacksonException e) {
        String original = e.getOriginalMessage() == null ? "" : e.getOriginalMessage().strip();
        if (e instanceof StreamConstraintsException) {
            return limit(original);
        }
        for (Rule rule : RULES) {
            Matcher m = rule.pattern.matcher(original);
            if (m.matches()) {
                return rule.say.apply(m);
            }
        }
        // anything else: the parser's sentence without its internals
        String plain = original.replaceAll("\\s*\\(?(for \\w+ starting at |start marker at )?\\[Source:[^\\]]*\\]\\)?", "")
                .replaceAll("\\s*\\([^()]*`[^`]*`[^()]*\\)", "")
                .replaceAll("`[^`]*`", "")
                .strip();
        return plain.isEmpty() ? "not valid JSON" : lower(plain);
    }

    /** A parser limit (nesting, number, string or name length), in words. */
    private static String limit(String original) {
        Matcher m = Pattern.compile("\\((\\d+)\\) exceeds the maximum allowed \\((\\d+)").matcher(original);
        String max = m.find() ? m.group(2) : "the";
        if (original.startsWith("Document nesting depth")) {
            return "the JSON is nested deeper than " + max + " levels";
        }
        if (original.startsWith("Number value length")) {
            return "a number is longer than " + max + " digits";
        }
        if (original.startsWith("String value length")) {
            return "a string is longer than " + max + " characters";
        }
        if (original.startsWith("Name length")) {
            return "a field name is longer than " + max + " characters";
        }
        if (original.startsWith("Document length")) {
            return "the JSON is longer than " + max + " characters";
        }
        return "the JSON is larger than this reader accepts";
    }

    private static String expectation(String jackson) {
        if (jackson.startsWith("a valid value") || jackson.equals("a value")) {
            return VALUE;
        }
        String e = jackson.replace("field name", "a field name").replace("Object entries", "the entries of an object")
                .replace("Array entries", "the entries of an array").replace(", for valid numeric value", "");
        return e.startsWith("a ") || e.startsWith("an ") ? e : "a " + e;
    }

    private static String character(String c, String code) {
        int point = Integer.parseInt(code);
        return point < 0x20 || point == 0x7f ? "(control character " + point + ")" : "'" + c + "'";
    }

    /** At most 40 characters of a quoted word (the parser quotes up to 256). */
    private static String shorten(String word) {
        String w = word.endsWith("...") ? word.substring(0, word.length() - 3) : word;
        return w.length() <= 40 && !word.endsWith("...") ? w : w.substring(0, Math.min(40, w.length())) + "…";
    }

    private static String noun(String jacksonKind) {
        return jacksonKind.toLowerCase(Locale.ROOT);
    }

    private static String lower(String s) {
        return s.isEmpty() ? s : Character.toLowerCase(s.charAt(0)) + s.substring(1);
    }
}
