package ai.vl4j.train;

import ai.vl4j.nn.Linear;
import ai.vl4j.nn.LoraAdapter;
import ai.vl4j.nn.Module;
import ai.vl4j.train.io.Adapter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Attaches LoRA adapters to the linear layers a PEFT config targets: a layer matches a target name when its module
 * path is the name or ends with "." + name (PEFT's suffix rule: {@code up_proj} matches
 * {@code language_model.model.layers.0.mlp.up_proj}, not {@code aligner.high_up_proj}).
 */
public final class Lora {
    /** PEFT's default targets for LLaMA-style models: every projection of attention and MLP. */
    public static final List<String> ALL_PROJECTIONS = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    private Lora() {
    }

    /** Whether module path is targeted by one of targets. */
    public static boolean matches(String path, List<String> targets) {
        for (String t : targets) {
            if (path.equals(t) || path.endsWith("." + t)) {
                return true;
            }
        }
        return false;
    }

    /** The linear layers under root that targets match, in checkpoint order. */
    public static List<Linear> targets(Module root, List<String> targets) {
        List<Linear> out = new ArrayList<>();
        for (Linear l : Module.find(root, Linear.class)) {
            if (matches(l.path(), targets)) {
                out.add(l);
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("--lora-targets " + String.join(",", targets) + " match no linear layer of the model");
        }
        return out;
    }

    /**
     * New adapters of rank r with PEFT's initialisation: A ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5), B = 0,
     * so training starts from the base model's outputs; scaling alpha / r. Seeded: the same seed, the same A.
     */
    public static List<LoraAdapter> attachNew(Module root, List<String> targets, int rank, float alpha, long seed) {
        if (rank < 1) {
            throw new IllegalArgumentException("--lora-rank must be at least 1, got " + rank);
        }
        SplittableRandom random = new SplittableRandom(seed);
        List<LoraAdapter> out = new ArrayList<>();
        for (Linear l : targets(root, targets)) {
            float bound = (float) (1 / Math.sqrt(l.in()));
            float[] a = new float[rank * l.in()];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (random.nextDouble(-1, 1) * bound);
            }
            LoraAdapter lora = new LoraAdapter(l.path(), a, new float[l.out() * rank], rank, l.in(), l.out(), alpha / rank);
            l.attach(lora);
            out.add(lora);
        }
        return out;
    }

    /**
     * The adapters of a PEFT adapter folder (read by {@link Adapter#read}) attached to the layers they name; the
     * adapter's scaling (alpha / r, or alpha / √r with rsLoRA). Every adapted module must be a linear layer of root.
     */
    public static List<LoraAdapter> attach(Module root, Adapter adapter) {
        Map<String, Linear> byPath = new java.util.HashMap<>();
        for (Linear l : Module.find(root, Linear.class)) {
            byPath.put(l.path(), l);
        }
        List<LoraAdapter> out = new ArrayList<>();
        for (Map.Entry<String, Adapter.Lora> e : adapter.modules().entrySet()) {
            Linear l = byPath.get(e.getKey());
            if (l == null) {
                throw new IllegalArgumentException("the adapter adapts " + e.getKey() + ", which is no linear layer of the model");
            }
            Adapter.Lora pair = e.getValue();
            if (pair.in() != l.in() || pair.out() != l.out()) {
                throw new IllegalArgumentException("the adapter's " + e.getKey() + " is for [" + pair.out() + ", " + pair.in()
                        + "], the model's layer is [" + l.out() + ", " + l.in() + "]");
            }
            LoraAdapter lora = new LoraAdapter(l.path(), pair.a().clone(), pair.b().clone(), pair.rank(), l.in(), l.out(),
                    (float) adapter.scaling());
            l.attach(lora);
            out.add(lora);
        }
        return out;
    }
}
