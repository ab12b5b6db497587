package ai.vl4j.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A part of a model that owns parameters, directly or through the modules it is made of. A trainer finds every
 * parameter through it, by checkpoint name: a stage freezes or trains by name, AdamW decays by a parameter's
 * number of dimensions, LoRA wraps a {@link Linear} found by name.
 */
public interface Module {
    /** The modules this one is made of, in checkpoint order (none for a layer that holds parameters itself). */
    default List<? extends Module> children() {
        return List.of();
    }

    /** This module's parameters and its parts', each once, in checkpoint order (a part's before the next part's). */
    default List<Parameter> parameters() {
        return all(children());
    }

    /** Every module of type under root (root included), depth first in checkpoint order. */
    static <T extends Module> List<T> find(Module root, Class<T> type) {
        List<T> out = new ArrayList<>();
        collect(root, type, out);
        return out;
    }

    private static <T extends Module> void collect(Module m, Class<T> type, List<T> out) {
        if (type.isInstance(m)) {
            out.add(type.cast(m));
        }
        for (Module child : m.children()) {
            if (child != null) {
                collect(child, type, out);
            }
        }
    }

    /** {@link #all} of the given parts (null parts skipped). */
    static List<Parameter> of(Module... parts) {
        return all(java.util.Arrays.asList(parts));
    }

    /** Concatenates the parameters of several modules, dropping repeats (a tied embedding is one parameter). */
    static List<Parameter> all(Iterable<? extends Module> modules) {
        Set<Parameter> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Parameter> out = new ArrayList<>();
        for (Module m : modules) {
            if (m != null) {
                for (Parameter p : m.parameters()) {
                    if (seen.add(p)) {
                        out.add(p);
                    }
                }
            }
        }
        return out;
    }

    /** The parameters of modules, by name (names are unique in a checkpoint). */
    static Map<String, Parameter> byName(List<Parameter> parameters) {
        Map<String, Parameter> map = new LinkedHashMap<>();
        for (Parameter p : parameters) {
            if (map.put(p.name(), p) != null) {
                throw new IllegalStateException("two parameters named " + p.name());
            }
        }
        return map;
    }
}
