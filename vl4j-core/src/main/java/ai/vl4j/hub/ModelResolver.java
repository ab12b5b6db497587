package ai.vl4j.hub;

import ai.vl4j.InvalidInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * Turns what a user typed after --model into a model folder: an existing local folder, else a Hugging Face
 * repository id ({@code deepseek-ai/deepseek-vl-1.3b-chat}, optionally {@code @revision}) found in the HF cache
 * or downloaded into it.
 */
public final class ModelResolver {
    private static final Pattern REPO_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9._/-]+)?");

    private final HubClient hub;

    public ModelResolver(HubClient hub) {
        this.hub = hub;
    }

    /** A local folder, a cached repository, or a repository downloaded now (progress reported). */
    public Path resolve(String model, HubClient.Progress progress) {
        Path local = Path.of(model);
        if (Files.isDirectory(local)) {
            return local;
        }
        if (!REPO_ID.matcher(model).matches() || model.startsWith(".") || model.startsWith("/")) {
            throw new InvalidInputException(model + ": model folder not found (give a folder or a Hugging Face id such as deepseek-ai/deepseek-vl-1.3b-chat)");
        }
        String repo = model;
        String revision = "main";
        int at = model.indexOf('@');
        if (at > 0) {
            repo = model.substring(0, at);
            revision = model.substring(at + 1);
        }
        Path cached = hub.cache().snapshot(repo, revision);
        if (cached != null && Files.isRegularFile(cached.resolve("config.json")) && hasWeights(cached)) {
            return cached;
        }
        return hub.download(repo, revision, progress);
    }

    private static boolean hasWeights(Path folder) {
        return Files.isRegularFile(folder.resolve("model.safetensors")) || Files.isRegularFile(folder.resolve("model.safetensors.index.json"));
    }
}
