package ai.vl4j.vlm;

import ai.vl4j.config.ConfigNode;
import java.util.Set;

/**
 * The aligner ({@code MlpProjector}) of {@code aligner_config.params}.
 *
 * @param projectorType identity | linear | mlp_gelu (1.3B) | low_high_hybrid_split_mlp_gelu (7B)
 * @param depth         number of Linear layers of the MLP
 * @param inputDim      width of the vision features
 * @param nEmbed        output width = LLM hidden size
 */
public record AlignerConfig(String projectorType, int depth, int inputDim, int nEmbed) {
    static final Set<String> TYPES = Set.of("identity", "linear", "mlp_gelu", "low_high_hybrid_split_mlp_gelu");

    public boolean isHybrid() {
        return projectorType.equals("low_high_hybrid_split_mlp_gelu");
    }

    public static AlignerConfig fromJson(ConfigNode params) {
        String type = params.requireString("projector_type");
        if (!TYPES.contains(type)) {
            throw params.error("projector_type", "is " + type + "; supported: " + TYPES);
        }
        AlignerConfig cfg = new AlignerConfig(type, params.optInt("depth", 1),
                params.requireInt("input_dim"), params.requireInt("n_embed"));
        if (cfg.depth() < 1) {
            throw params.error("depth", "must be at least 1");
        }
        return cfg;
    }
}
