package ai.vl4j.train.data;

import ai.vl4j.InvalidInputException;

/**
 * A JSONL line that is not a valid training sample. The message is one line:
 * {@code FILE:LINE: FIELD: problem} (or {@code FILE:LINE: problem} when no single field is at fault), e.g.
 * {@code data/sft.jsonl:7: conversations[1].role: expected "Assistant", got "User"}.
 */
public final class BadSampleException extends InvalidInputException {
    private final transient SampleSource source;
    private final String field;
    private final String problem;

    public BadSampleException(SampleSource source, String field, String problem) {
        this(source, field, problem, null);
    }

    public BadSampleException(SampleSource source, String field, String problem, Throwable cause) {
        super(source + ": " + (field == null ? "" : field + ": ") + oneLine(problem), cause);
        this.source = source;
        this.field = field;
        this.problem = oneLine(problem);
    }

    /** The file and line of the sample. */
    public SampleSource source() {
        return source;
    }

    /** The JSON field at fault ({@code images[1]}, {@code conversations[0].content}), or null. */
    public String field() {
        return field;
    }

    /** The message without the file, line and field. */
    public String problem() {
        return problem;
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
    }
}
