package ai.vl4j.llm;

import ai.vl4j.config.ConfigNode;

/**
 * Hyper-parameters of the LLaMA decoder, read from {@code language_config}. Absent keys take the defaults of
 * {@code transformers.LlamaConfig} (4.38), exactly as the reference does: the real 7B file omits hidden and
 * FFN sizes, and neither real file carries {@code rms_norm_eps} or {@code rope_theta}.
 *
 * @param hiddenSize            H, width of the residual stream
 * @param intermediateSize      I, width of the SwiGLU MLP
 * @param numLayers             decoder layers
 * @param numHeads              query heads
 * @param numKvHeads            key/value heads (grouped-query attention when fewer than numHeads)
 * @param vocabSize             rows of embed_tokens and lm_head (102400; the tokenizer uses 100016 of them)
 * @param maxPositions          max_position_embeddings: the longest sequence accepted
 * @param rmsNormEps            RMSNorm epsilon
 * @param ropeTheta             RoPE base
 * @param tieWordEmbeddings     lm_head shares embed_tokens (false for DeepSeek-VL)
 */
public record LlamaConfig(int hiddenSize, int intermediateSize, int numLayers, int numHeads, int numKvHeads,
                          int vocabSize, int maxPositions, float rmsNormEps, float ropeTheta, boolean tieWordEmbeddings) {

    public int headDim() {
        return hiddenSize / numHeads;
    }

    public int kvDim() {
        return numKvHeads * headDim();
    }

    public static LlamaConfig fromJson(ConfigNode c) {
        int heads = c.optInt("num_attention_heads", 32);
        LlamaConfig cfg = new LlamaConfig(
                c.optInt("hidden_size", 4096),
                c.optInt("intermediate_size", 11008),
                c.optInt("num_hidden_layers", 32),
                heads,
                c.optInt("num_key_value_heads", heads),
                c.optInt("vocab_size", 32000),
                c.optInt("max_position_embeddings", 2048),
                (float) c.optDouble("rms_norm_eps", 1e-6),
                (float) c.optDouble("rope_theta", 10000.0),
                c.optBoolean("tie_word_embeddings", false));
        String act = c.optString("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw c.error("hidden_act", "is " + act + "; only silu is supported");
        }
        if (c.has("rope_scaling")) {
            throw c.error("rope_scaling", "is set; RoPE scaling is not supported (DeepSeek-VL has none)");
        }
        if (c.optBoolean("attention_bias", false)) {
            throw c.error("attention_bias", "is true; attention biases are not supported (DeepSeek-VL has none)");
        }
        if (cfg.hiddenSize % heads != 0 || heads % cfg.numKvHeads != 0) {
            throw c.error("num_attention_heads", "(" + heads + ") must divide hidden_size (" + cfg.hiddenSize
                    + ") and be a multiple of num_key_value_heads (" + cfg.numKvHeads + ")");
        }
        if (cfg.headDim() % 2 != 0) {
            throw c.error("hidden_size", "gives an odd head dimension " + cfg.headDim() + "; rotary embeddings need an even one");
        }
        return cfg;
    }
}
