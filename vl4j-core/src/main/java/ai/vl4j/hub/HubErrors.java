package ai.vl4j.hub;

import ai.vl4j.InvalidInputException;
import ai.vl4j.Vl4jException;
import java.net.http.HttpHeaders;

/**
 * Turns the hub's error answers into messages that say what to do. The hub names the cause in
 * {@code X-Error-Code} (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) and explains it in
 * {@code X-Error-Message}; without a token it answers 401 even for repositories that do not exist, so as not
 * to reveal private ones.
 */
final class HubErrors {
    private HubErrors() {
    }

    static Vl4jException failure(RepoRef ref, int status, HttpHeaders headers, String file) {
        String text = describe(status, headers, file);
        String code = headers.firstValue("X-Error-Code").orElse("");
        boolean userFixable = status == 404 || code.equals("RepoNotFound") || code.equals("RevisionNotFound")
                || code.equals("EntryNotFound");
        return userFixable ? new InvalidInputException(ref + ": " + text) : new Vl4jException(ref + ": " + text);
    }

    static String describe(int status, HttpHeaders headers, String file) {
        String code = headers.firstValue("X-Error-Code").orElse("");
        String detail = headers.firstValue("X-Error-Message").map(m -> " (hub: " + m + ")").orElse("");
        String what = file == null ? "" : file + ": ";
        return switch (code) {
            case "GatedRepo" -> what + "the model is gated: accept its conditions on its Hugging Face page, then set HF_TOKEN"
                    + " to a token of that account (HTTP " + status + ")" + detail;
            case "RepoNotFound" -> "no such model on the hub, or it is private (then set HF_TOKEN) (HTTP " + status + ")";
            case "RevisionNotFound" -> "no such revision (branch, tag or commit) (HTTP " + status + ")";
            case "EntryNotFound" -> what + "no such file in the repository (HTTP " + status + ")";
            default -> switch (status) {
                case 401 -> what + "the hub asks for authentication (HTTP 401): the model is private or gated,"
                        + " or does not exist; set HF_TOKEN to a token with access" + detail;
                case 403 -> what + "access denied (HTTP 403): HF_TOKEN lacks access to this model" + detail;
                case 404 -> what + "not found on the hub (HTTP 404)" + detail;
                case 429 -> what + "rate-limited by the hub (HTTP 429); wait a minute and try again" + detail;
                default -> what + "the hub answered HTTP " + status + detail;
            };
        };
    }
}
