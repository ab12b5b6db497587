package ai.vl4j.nn;

import ai.vl4j.config.ConfigNode;
import ai.vl4j.tensor.Activations;
import java.util.Arrays;
import java.util.List;

/**
 * The MLP activation a transformer config names in {@code hidden_act}, by Hugging Face's names (transformers'
 * {@code ACT2FN}): each maps to a kernel of {@link Activations}.
 */
public enum Activation {
    /** Exact (erf) GELU: {@code gelu}, torch's nn.GELU() (DeepSeek-VL's SigLIP, some LAION CLIPs). */
    GELU("gelu"),
    /** ½·x·(1 + tanh(√(2/π)(x + 0.044715x³))): {@code gelu_pytorch_tanh} (SigLIP), {@code gelu_new}, {@code gelu_fast}. */
    GELU_TANH("gelu_pytorch_tanh", "gelu_new", "gelu_fast"),
    /** x·σ(1.702x): {@code quick_gelu} (OpenAI CLIP). */
    QUICK_GELU("quick_gelu");

    private final List<String> hfNames;

    Activation(String... hfNames) {
        this.hfNames = List.of(hfNames);
    }

    /** In place on x[0 .. n). */
    public void apply(float[] x, int n) {
        switch (this) {
            case GELU -> Activations.gelu(x, n);
            case GELU_TANH -> Activations.geluTanh(x, n);
            case QUICK_GELU -> Activations.quickGelu(x, n);
        }
    }

    /** The activation {@code key} of config names (fallback when the key is absent); an error naming the value otherwise. */
    public static Activation fromConfig(ConfigNode config, String key, Activation fallback) {
        if (!config.has(key)) {
            return fallback;
        }
        String name = config.requireString(key);
        return Arrays.stream(values()).filter(a -> a.hfNames.contains(name)).findFirst().orElseThrow(() ->
                config.error(key, "is " + name + "; supported: " + Arrays.stream(values()).flatMap(a -> a.hfNames.stream()).toList()));
    }
}
