package ai.vl4j.tensor;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Which {@link ComputeBackend} runs the products of many rows, chosen once per process: {@code --backend} on
 * the commands that run models, else the system property {@code vl4j.backend} or the environment variable
 * {@code VL4J_BACKEND} ({@code auto}, {@code java} or {@code dnnl}), else {@code auto}.
 *
 * <p>{@code auto} takes oneDNN where it loads, passes its self-check and JIT-compiles for at least AVX2 (its
 * float32 products then beat the Java kernels: README, Speed), else Java. oneDNN is looked for as
 * {@code libdnnl.so.2} on the system library path, or at the file named by {@code VL4J_DNNL} (or the system
 * property {@code vl4j.dnnl}). A library that is missing or broken falls back to Java, never an exception: with
 * one line on stderr where oneDNN was asked for or was found broken, silently where {@code auto} finds none;
 * {@link #report()} (--verbose) says what happened.
 */
public final class Backends {

    /** The choices of --backend. */
    public enum Choice {
        AUTO, JAVA, DNNL;

        /** "auto", "java" or "dnnl" (any case). */
        public static Choice parse(String s) {
            for (Choice c : values()) {
                if (c.name().equalsIgnoreCase(s.trim())) {
                    return c;
                }
            }
            throw new IllegalArgumentException("--backend must be auto, java or dnnl, got " + s);
        }
    }

    /** The choices of --compute: the precision of the inputs of the products of many rows. */
    public enum Compute {
        /** float32 inputs (the default: every fixture at its tolerance). */
        F32,
        /** bfloat16 inputs, float32 sums, where oneDNN has a bfloat16 dot product (else float32, said once). */
        BF16;

        /** "f32" or "bf16" (any case). */
        public static Compute parse(String s) {
            for (Compute c : values()) {
                if (c.name().equalsIgnoreCase(s.trim())) {
                    return c;
                }
            }
            throw new IllegalArgumentException("--compute must be f32 or bf16, got " + s);
        }
    }

    private static volatile ComputeBackend active;
    private static final Map<String, Object> LOADED = new HashMap<>();   // library path ("" = by name) → backend or problem
    private static String reason = "";

    private Backends() {
    }

    /**
     * The backend in effect; the first call chooses by the system property or environment (auto by default), and the
     * precision likewise ({@link #defaultCompute()}).
     */
    public static ComputeBackend active() {
        ComputeBackend b = active;
        if (b != null) {
            return b;
        }
        synchronized (Backends.class) {
            if (active == null) {
                select(defaultChoice());
                selectCompute(defaultCompute(), System.err::println);
            }
            return active;
        }
    }

    /** Chooses the backend for the rest of the process and returns it; a fallback is said in one line on stderr. */
    public static ComputeBackend select(Choice choice) {
        return select(choice, System.err::println);
    }

    /** As {@link #select(Choice)}, a fallback said to warn (one line). */
    public static ComputeBackend select(Choice choice, Consumer<String> warn) {
        return select(choice, libraryPath(), warn);
    }

    /** As {@link #select(Choice)}, oneDNN looked for at libraryPath (null: by name), a fallback said to warn. */
    static synchronized ComputeBackend select(Choice choice, String libraryPath, Consumer<String> warn) {
        ComputeBackend b = switch (choice) {
            case JAVA -> {
                reason = "asked for";
                yield JavaBackend.INSTANCE;
            }
            case DNNL -> {
                Object d = loadDnnl(libraryPath, warn, true);
                reason = d instanceof DnnlBackend ? "asked for" : "oneDNN asked for but unavailable: " + d;
                yield d instanceof DnnlBackend db ? db : JavaBackend.INSTANCE;
            }
            case AUTO -> {
                Object d = loadDnnl(libraryPath, warn, false);
                if (d instanceof DnnlBackend db && db.library().hasJitKernels()) {
                    reason = "auto: oneDNN found, ISA " + db.library().isa();
                    yield db;
                }
                reason = d instanceof DnnlBackend db ? "auto: oneDNN has no JIT kernels for this CPU (ISA " + db.library().isa() + ")"
                        : "auto: " + d;
                yield JavaBackend.INSTANCE;
            }
        };
        if (active instanceof DnnlBackend old && old != b) {
            old.bf16Inputs(false);
        }
        active = b;
        return b;
    }

    /**
     * Sets the precision of the products of many rows' inputs for the rest of the process (after the backend is
     * chosen). bfloat16 is taken where the backend in effect is oneDNN with a bfloat16 dot product (AVX512-BF16 or
     * AMX), where it runs about twice as fast as float32; elsewhere the products stay float32 and warn says why (one
     * line). Returns the precision in effect.
     */
    public static synchronized Compute selectCompute(Compute compute, Consumer<String> warn) {
        ComputeBackend b = active();
        if (compute == Compute.BF16) {
            if (!(b instanceof DnnlBackend d)) {
                warn.accept("vl4j: --compute bf16 needs the oneDNN backend (in effect: " + b.name() + "); computing in float32");
            } else if (!d.bf16Inputs(true)) {
                warn.accept("vl4j: --compute bf16 needs a CPU with a bfloat16 dot product (oneDNN's ISA here: "
                        + d.library().isa() + "); computing in float32");
            }
        } else if (b instanceof DnnlBackend d) {
            d.bf16Inputs(false);
        }
        return bf16Inputs() ? Compute.BF16 : Compute.F32;
    }

    /**
     * True while the products of many rows take bfloat16 inputs ({@link #selectCompute}): a prompt's rows then go to
     * the backend too, whose sums may be taken in an order that follows the number of rows.
     */
    public static boolean bf16Inputs() {
        return active() instanceof DnnlBackend d && d.bf16Inputs();
    }

    /** The precision without --compute: the system property vl4j.compute, else VL4J_COMPUTE, else f32. */
    public static Compute defaultCompute() {
        String s = System.getProperty("vl4j.compute");
        if (s == null || s.isBlank()) {
            s = System.getenv("VL4J_COMPUTE");
        }
        return s == null || s.isBlank() ? Compute.F32 : Compute.parse(s);
    }

    /** One line for --verbose: the backend in effect, why, and what it runs on. */
    public static synchronized String report() {
        ComputeBackend b = active();
        return "backend " + b.describe() + "; " + reason;
    }

    /** oneDNN's ISA where it is the backend in effect, else null. */
    public static String dnnlIsa() {
        return active() instanceof DnnlBackend d ? d.library().isa() : null;
    }

    /** Memory held by oneDNN's copies of weights (widened, rounded or re-laid; 0 where it is not in effect). */
    public static long dnnlPackedBytes() {
        return active() instanceof DnnlBackend d ? d.packedBytes() : 0;
    }

    /** The choice without --backend: the system property vl4j.backend, else VL4J_BACKEND, else auto. */
    public static Choice defaultChoice() {
        String s = System.getProperty("vl4j.backend");
        if (s == null || s.isBlank()) {
            s = System.getenv("VL4J_BACKEND");
        }
        return s == null || s.isBlank() ? Choice.AUTO : Choice.parse(s);
    }

    /**
     * oneDNN from libraryPath, loaded once per process and path: the backend, or the one-line problem (said to
     * warn when it was asked for, or when a library was found but is broken).
     */
    private static Object loadDnnl(String libraryPath, Consumer<String> warn, boolean asked) {
        String key = libraryPath == null ? "" : libraryPath;
        Object d = LOADED.get(key);
        boolean missing = false;
        if (d == null) {
            try {
                d = open(libraryPath, packBudget());
            } catch (Dnnl.Unavailable e) {
                d = e.getMessage();
                missing = e.missing;
                if (!asked && !missing) {
                    warn.accept("vl4j: " + d + "; using the Java kernels");
                }
            }
            LOADED.put(key, d);
        }
        if (asked && d instanceof String problem) {
            warn.accept("vl4j: " + problem + "; using the Java kernels");
        }
        return d;
    }

    /** Opens oneDNN (the file at libraryPath, or by name when null) and checks its products against Java's. */
    static DnnlBackend open(String libraryPath, long packBudget) throws Dnnl.Unavailable {
        Dnnl lib = Dnnl.open(libraryPath);
        DnnlBackend backend = new DnnlBackend(lib, packBudget);
        try {
            selfCheck(backend);
        } catch (RuntimeException e) {
            throw new Dnnl.Unavailable(lib.library() + " failed its self-check: " + e.getMessage(), e, false);
        }
        return backend;
    }

    static String libraryPath() {
        String p = System.getProperty("vl4j.dnnl");
        return p != null ? p : System.getenv("VL4J_DNNL");
    }

    /**
     * Native memory oneDNN may hold as float32 copies of 16-bit weights: {@code vl4j.dnnl.pack-mb} or
     * {@code VL4J_DNNL_PACK_MB} megabytes, else none (16-bit weights are then widened on every product: measured
     * at a few percent of a prefill's time, against twice the weights' memory).
     */
    static long packBudget() {
        return Math.max(0, packBudgetOrNegative());
    }

    /** {@code vl4j.dnnl.pack-mb} or {@code VL4J_DNNL_PACK_MB} in bytes, or -1 where neither is set. */
    static long packBudgetOrNegative() {
        String s = System.getProperty("vl4j.dnnl.pack-mb");
        if (s == null) {
            s = System.getenv("VL4J_DNNL_PACK_MB");
        }
        if (s != null && !s.isBlank()) {
            try {
                return Long.parseLong(s.trim()) << 20;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("VL4J_DNNL_PACK_MB must be a number of megabytes, got " + s);
            }
        }
        return -1;
    }

    /** The three products on small odd shapes against the Java kernels, within float32 summation error. */
    private static void selfCheck(DnnlBackend d) {
        Random rnd = new Random(42);
        int n = 7, k = 37, m = 19;
        float[] x = gaussian(rnd, n * k);
        float[] dy = gaussian(rnd, n * m);
        float[] b = gaussian(rnd, m);
        FloatMatrix w = new FloatMatrix("self-check", m, k, gaussian(rnd, m * k));
        float[] got = new float[n * m];
        float[] want = new float[n * m];
        d.linear(x, n, w, b, got);
        JavaBackend.INSTANCE.linear(x, n, w, b, want);
        compare("linear", got, want, k);
        got = new float[n * k];
        want = new float[n * k];
        d.backwardInput(dy, n, w, got);
        JavaBackend.INSTANCE.backwardInput(dy, n, w, want);
        compare("backwardInput", got, want, m);
        got = gaussian(rnd, m * k);
        want = got.clone();
        d.backwardWeight(dy, x, n, m, k, got);
        JavaBackend.INSTANCE.backwardWeight(dy, x, n, m, k, want);
        compare("backwardWeight", got, want, n);
    }

    private static void compare(String what, float[] got, float[] want, int depth) {
        for (int i = 0; i < want.length; i++) {
            if (!(Math.abs(got[i] - want[i]) <= 1e-4 * depth * (1 + Math.abs(want[i])))) {
                throw new IllegalStateException(String.format(Locale.ROOT, "%s element %d is %g, expected %g", what, i, got[i], want[i]));
            }
        }
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }
}
