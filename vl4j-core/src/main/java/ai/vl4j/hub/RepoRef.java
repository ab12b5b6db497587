package ai.vl4j.hub;

import ai.vl4j.InvalidInputException;
import java.util.regex.Pattern;

/**
 * A Hugging Face model repository and the revision wanted: {@code org/name} or {@code org/name@revision}
 * (a branch, a tag or a commit hash; {@code main} when not given).
 */
public record RepoRef(String repo, String revision) {
    private static final Pattern REPO = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final Pattern REVISION = Pattern.compile("[A-Za-z0-9._][A-Za-z0-9._/-]*");

    public RepoRef {
        if (!REPO.matcher(repo).matches() || repo.contains("..")) {
            throw new InvalidInputException(repo + ": not a Hugging Face model id (expected ORG/NAME, e.g. deepseek-ai/deepseek-vl-1.3b-chat)");
        }
        if (!REVISION.matcher(revision).matches() || revision.contains("..")) {
            throw new InvalidInputException(repo + "@" + revision + ": not a valid revision (a branch, tag or commit hash)");
        }
    }

    /** True when text has the shape of a model id (so it is not meant as a folder). */
    public static boolean looksLikeId(String text) {
        int at = text.indexOf('@');
        String repo = at < 0 ? text : text.substring(0, at);
        return REPO.matcher(repo).matches() && !repo.startsWith(".");
    }

    /** Parses {@code org/name[@revision]}. */
    public static RepoRef parse(String text) {
        int at = text.indexOf('@');
        if (at < 0) {
            return new RepoRef(text, "main");
        }
        return new RepoRef(text.substring(0, at), text.substring(at + 1));
    }

    /** True when the revision is a full commit hash (a snapshot folder name, no ref file needed). */
    public boolean isCommit() {
        return revision.matches("[0-9a-f]{40}");
    }

    @Override
    public String toString() {
        return revision.equals("main") ? repo : repo + "@" + revision;
    }
}
