package ai.vl4j.text;

import ai.vl4j.config.ConfigNode;

/**
 * {@code processor_config.json} ({@code VLChatProcessor}).
 *
 * @param imageTag        the placeholder text ({@code <image_placeholder>})
 * @param numImageTokens  ids each placeholder expands to (576)
 * @param sftFormat       conversation template name; only "deepseek" exists
 */
public record ChatProcessorConfig(String imageTag, int numImageTokens, String sftFormat) {

    /** The values of the real checkpoints, used when a folder has no processor_config.json. */
    public static final ChatProcessorConfig DEFAULT = new ChatProcessorConfig(Tokenizer.IMAGE_TAG, 576, "deepseek");

    public static ChatProcessorConfig fromJson(ConfigNode c) {
        ChatProcessorConfig cfg = new ChatProcessorConfig(c.optString("image_tag", Tokenizer.IMAGE_TAG),
                c.optInt("num_image_tokens", 576), c.optString("sft_format", "deepseek"));
        if (c.optBoolean("add_special_token", false)) {
            // The reference would then keep the tag id beside its 576 copies and fail to match embeddings.
            throw c.error("add_special_token", "is true; only false (the real checkpoints' value) is supported");
        }
        if (!cfg.sftFormat().equals("deepseek")) {
            throw c.error("sft_format", "is " + cfg.sftFormat() + "; only the deepseek template is supported");
        }
        if (cfg.numImageTokens() < 1) {
            throw c.error("num_image_tokens", "must be positive");
        }
        return cfg;
    }
}
