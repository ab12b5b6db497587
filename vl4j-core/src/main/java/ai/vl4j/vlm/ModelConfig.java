package ai.vl4j.vlm;

import ai.vl4j.ModelFormatException;
import ai.vl4j.config.ConfigNode;
import ai.vl4j.image.ImageProcessorConfig;
import ai.vl4j.llm.LlamaConfig;
import ai.vl4j.text.ChatProcessorConfig;
import ai.vl4j.vision.SamConfig;
import ai.vl4j.vision.SigLipConfig;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Everything a model folder says about the model: {@code config.json} (vision tower, aligner, language model),
 * {@code preprocessor_config.json} (image processor) and {@code processor_config.json} (prompt processor).
 *
 * @param towerClass     vision_config.cls: CLIPVisionTower (1.3B) or HybridVisionTower (7B)
 * @param siglip         the SigLIP tower: the only tower of 1.3B, the low-resolution one of 7B
 * @param sam            the SAM tower of 7B (high_res_cfg), null for 1.3B
 * @param aligner        aligner_config.params
 * @param language       language_config with LlamaConfig defaults
 * @param imageProcessor preprocessor_config.json
 * @param chatProcessor  processor_config.json (defaults when absent)
 */
public record ModelConfig(String towerClass, SigLipConfig siglip, SamConfig sam, AlignerConfig aligner, LlamaConfig language,
                          ImageProcessorConfig imageProcessor, ChatProcessorConfig chatProcessor) {

    public boolean hybrid() {
        return sam != null;
    }

    public static ModelConfig load(Path folder) {
        Path configFile = folder.resolve("config.json");
        ConfigNode root = ConfigNode.load(configFile);
        ConfigNode vision = root.child("vision_config");
        String cls = vision.requireString("cls");
        ConfigNode params = vision.child("params");
        SigLipConfig siglip;
        SamConfig sam = null;
        if (cls.contains("HybridVisionTower")) {
            String concat = params.optString("concat_type", "tuple");
            if (!concat.equals("tuple")) {
                throw params.error("concat_type", "is " + concat + "; only tuple (the released 7B models) is supported");
            }
            ConfigNode high = params.child("high_res_cfg");
            ConfigNode low = params.child("low_res_cfg");
            requireFamily(high, "sam");
            requireFamily(low, "siglip");
            sam = SamConfig.fromJson(high);
            siglip = SigLipConfig.fromJson(low);
        } else if (cls.contains("CLIPVisionTower")) {
            requireFamily(params, "siglip");
            siglip = SigLipConfig.fromJson(params);
        } else {
            throw vision.error("cls", "is " + cls + "; expected CLIPVisionTower or HybridVisionTower");
        }
        AlignerConfig aligner = AlignerConfig.fromJson(root.child("aligner_config").child("params"));
        LlamaConfig language = LlamaConfig.fromJson(root.child("language_config"));
        ImageProcessorConfig imageProcessor = ImageProcessorConfig.fromJson(ConfigNode.load(folder.resolve("preprocessor_config.json")));
        Path processorFile = folder.resolve("processor_config.json");
        ChatProcessorConfig chat = Files.isRegularFile(processorFile)
                ? ChatProcessorConfig.fromJson(ConfigNode.load(processorFile)) : ChatProcessorConfig.DEFAULT;
        ModelConfig cfg = new ModelConfig(cls, siglip, sam, aligner, language, imageProcessor, chat);
        cfg.checkConsistency(configFile);
        return cfg;
    }

    private static void requireFamily(ConfigNode params, String prefix) {
        String name = params.requireString("model_name");
        if (!name.startsWith(prefix)) {
            throw params.error("model_name", "is " + name + "; expected a " + prefix + " tower here");
        }
    }

    /** Sizes that must agree across the three files. */
    private void checkConsistency(Path configFile) {
        if (aligner.isHybrid() != hybrid()) {
            throw new ModelFormatException(configFile + ": aligner " + aligner.projectorType() + " does not fit the "
                    + towerClass + " (the hybrid tower goes with low_high_hybrid_split_mlp_gelu)");
        }
        int features = siglip.width();
        if (hybrid() && sam.outputWidth() != features) {
            throw new ModelFormatException(configFile + ": SAM output width " + sam.outputWidth() + " differs from SigLIP width " + features);
        }
        if (!aligner.projectorType().equals("identity") && aligner.inputDim() != features) {
            throw new ModelFormatException(configFile + ": aligner_config.params.input_dim " + aligner.inputDim()
                    + " differs from the vision feature width " + features);
        }
        int alignerOut = aligner.projectorType().equals("identity") ? features : aligner.nEmbed();
        if (alignerOut != language.hiddenSize()) {
            throw new ModelFormatException(configFile + ": aligner output width " + alignerOut
                    + " differs from language_config hidden size " + language.hiddenSize());
        }
        int towerInput = hybrid() ? sam.imageSize() : siglip.imageSize();
        if (imageProcessor.imageSize() != towerInput) {
            throw new ModelFormatException(configFile + ": preprocessor image_size " + imageProcessor.imageSize()
                    + " differs from the vision tower's input size " + towerInput);
        }
        if (siglip.numTokens() != chatProcessor.numImageTokens()) {
            throw new ModelFormatException(configFile + ": the vision tower yields " + siglip.numTokens()
                    + " tokens per image but processor_config num_image_tokens is " + chatProcessor.numImageTokens());
        }
    }
}
