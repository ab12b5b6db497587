package ai.vl4j.vlm;

import ai.vl4j.ModelFormatException;
import ai.vl4j.config.ConfigNode;
import ai.vl4j.image.ImageProcessorConfig;
import ai.vl4j.llm.LlamaConfig;
import ai.vl4j.text.ChatProcessorConfig;
import ai.vl4j.vision.SigLipConfig;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Everything a model folder says about the model: {@code config.json} (vision tower, aligner, language model),
 * {@code preprocessor_config.json} (image processor) and {@code processor_config.json} (prompt processor).
 *
 * @param towerClass     vision_config.cls: CLIPVisionTower (1.3B) or HybridVisionTower (7B)
 * @param siglip         the SigLIP tower (the only tower of 1.3B)
 * @param aligner        aligner_config.params
 * @param language       language_config with LlamaConfig defaults
 * @param imageProcessor preprocessor_config.json
 * @param chatProcessor  processor_config.json (defaults when absent)
 */
public record ModelConfig(String towerClass, SigLipConfig siglip, AlignerConfig aligner, LlamaConfig language,
                          ImageProcessorConfig imageProcessor, ChatProcessorConfig chatProcessor) {

    public static ModelConfig load(Path folder) {
        Path configFile = folder.resolve("config.json");
        ConfigNode root = ConfigNode.load(configFile);
        ConfigNode vision = root.child("vision_config");
        String cls = vision.requireString("cls");
        ConfigNode params = vision.child("params");
        SigLipConfig siglip;
        if (cls.contains("HybridVisionTower")) {
            throw new ModelFormatException(configFile + ": vision_config.cls is HybridVisionTower (the 7B SAM + SigLIP tower),"
                    + " which this version of vl4j does not run yet; the 1.3B models (CLIPVisionTower) are supported");
        } else if (cls.contains("CLIPVisionTower")) {
            if (!params.requireString("model_name").startsWith("siglip")) {
                throw params.error("model_name", "is " + params.requireString("model_name") + "; only SigLIP towers are supported");
            }
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
        ModelConfig cfg = new ModelConfig(cls, siglip, aligner, language, imageProcessor, chat);
        cfg.checkConsistency(configFile);
        return cfg;
    }

    /** Sizes that must agree across the three files. */
    private void checkConsistency(Path configFile) {
        if (aligner.isHybrid()) {
            throw new ModelFormatException(configFile + ": aligner " + aligner.projectorType() + " needs the hybrid vision tower");
        }
        if (!aligner.projectorType().equals("identity") && aligner.inputDim() != siglip.width()) {
            throw new ModelFormatException(configFile + ": aligner_config.params.input_dim " + aligner.inputDim()
                    + " differs from the vision tower width " + siglip.width());
        }
        int alignerOut = aligner.projectorType().equals("identity") ? siglip.width() : aligner.nEmbed();
        if (alignerOut != language.hiddenSize()) {
            throw new ModelFormatException(configFile + ": aligner output width " + alignerOut
                    + " differs from language_config hidden size " + language.hiddenSize());
        }
        if (imageProcessor.imageSize() != siglip.imageSize()) {
            throw new ModelFormatException(configFile + ": preprocessor image_size " + imageProcessor.imageSize()
                    + " differs from the vision tower's " + siglip.imageSize());
        }
        if (siglip.numTokens() != chatProcessor.numImageTokens()) {
            throw new ModelFormatException(configFile + ": the vision tower yields " + siglip.numTokens()
                    + " tokens per image but processor_config num_image_tokens is " + chatProcessor.numImageTokens());
        }
    }
}
