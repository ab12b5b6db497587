package ai.vl4j.hub;

import ai.vl4j.InvalidInputException;
import ai.vl4j.Vl4jException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns what a user typed after --model into a model folder: an existing local folder, else a Hugging Face
 * repository id ({@code deepseek-ai/deepseek-vl-1.3b-chat}, optionally {@code @revision}) found complete in
 * the HF cache, or downloaded into it (unless HF_HUB_OFFLINE is set).
 */
public final class ModelResolver {
    /** The model used when none is named. */
    public static final String DEFAULT_MODEL = "deepseek-ai/deepseek-vl-1.3b-chat";

    private final HubClient hub;

    public ModelResolver(HubClient hub) {
        this.hub = hub;
    }

    /** A local folder, a cached repository, or a repository downloaded now (progress reported). */
    public Path resolve(String model, HubClient.Listener listener) {
        Path local = Path.of(model);
        if (Files.isDirectory(local)) {
            return local;
        }
        if (!RepoRef.looksLikeId(model) || model.startsWith("/") || model.startsWith(".")) {
            throw new InvalidInputException(model + ": model folder not found (give a folder or a Hugging Face id such as "
                    + DEFAULT_MODEL + ")");
        }
        RepoRef ref = RepoRef.parse(model);
        Path cached = hub.cache().snapshot(ref.repo(), ref.revision());
        if (cached != null && HfCache.isComplete(cached)) {
            return cached;
        }
        if (hub.offline()) {
            throw new Vl4jException(ref + ": not in the Hugging Face cache (" + hub.cache().root() + ") and HF_HUB_OFFLINE is set;"
                    + " run 'vl4j pull " + ref + "' with network access first");
        }
        return hub.pull(ref, false, listener);
    }
}
