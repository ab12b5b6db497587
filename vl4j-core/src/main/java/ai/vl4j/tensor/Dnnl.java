package ai.vl4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * oneDNN 2.x (Debian's {@code libdnnl2}) through the FFM API: just what matrix products need (float32, or bfloat16
 * inputs with float32 sums; a matrix re-laid once into the layout a primitive chose). It knows nothing of weights
 * or models: a {@link Matmul} is a primitive for one shape and memory layout, run on memory segments handed over as
 * they are (a memory-mapped weight is read in place).
 *
 * <p>The C API of oneDNN 2.x (headers in {@code libdnnl-dev}, never needed at run time): an engine and a
 * stream; {@code dnnl_memory_desc_init_by_strides} describes a plain matrix by its dimensions and strides, so
 * a transposed operand is the same bytes with swapped strides; {@code dnnl_matmul_desc_init} +
 * {@code dnnl_primitive_desc_create} choose an implementation for the ISA found at run time (queried with
 * {@code dnnl_query_impl_info_str}, e.g. "gemm:jit", "brg:avx512_core_bf16") and {@code dnnl_primitive_create}
 * JIT-compiles it; {@code dnnl_primitive_execute} runs it with one memory object per argument. The 2.x
 * descriptors are structs the caller allocates (696 and 2800 bytes in 2.6); generous buffers are used here.
 * oneDNN 3.x changed these calls (opaque descriptors) and is refused by the version check.
 */
final class Dnnl {
    /** Why oneDNN cannot be used: the library is missing, is not oneDNN 2.x, or fails its self-check. */
    static final class Unavailable extends Exception {
        /** True when no library was found at all (rather than one found and failing). */
        final boolean missing;

        Unavailable(String message, Throwable cause, boolean missing) {
            super(message, cause);
            this.missing = missing;
        }
    }

    private static final Linker LINKER = Linker.nativeLinker();
    private static final long DESC_BYTES = 8192;        // ≥ sizeof(dnnl_memory_desc_t), sizeof(dnnl_matmul_desc_t) of 2.x
    /** The element types handed to oneDNN (dnnl_data_type_t). */
    enum Type {
        BF16(2), F32(3);

        final int code;

        Type(int code) {
            this.code = code;
        }
    }

    private static final int ENGINE_CPU = 1;            // dnnl_cpu
    private static final int STREAM_DEFAULT_FLAGS = 0x1; // dnnl_stream_default_flags (in order)
    private static final int QUERY_IMPL_INFO_STR = 8;   // dnnl_query_impl_info_str
    private static final int QUERY_WEIGHTS_MD = 131;    // dnnl_query_weights_md
    private static final int FORMAT_TAG_ANY = 1;        // dnnl_format_tag_any
    private static final int ARG_FROM = 1, ARG_TO = 17; // DNNL_ARG_FROM, DNNL_ARG_TO (a reorder's)
    private static final int ARG_SRC = 1, ARG_WEIGHTS = 33, ARG_BIAS = 41, ARG_DST = 17;
    private static final int RUNTIME_OMP = 2;           // DNNL_RUNTIME_OMP
    private static final String[] STATUS = {"success", "out_of_memory", "invalid_arguments", "unimplemented",
            "iterator_ends", "runtime_error", "not_required"};

    private final Arena arena = Arena.ofShared();       // the engine's lifetime: the process
    private final String library;
    private final String version;
    private final int isa;
    private final int cpuRuntime;
    private final MethodHandle memoryDescInitByStrides;
    private final MethodHandle matmulDescInit;
    private final MethodHandle primitiveAttrCreate;
    private final MethodHandle primitiveAttrSetPostOps;
    private final MethodHandle postOpsCreate;
    private final MethodHandle postOpsAppendSum;
    private final MethodHandle primitiveDescCreate;
    private final MethodHandle primitiveDescQuery;
    private final MethodHandle primitiveDescQueryMd;
    private final MethodHandle memoryDescInitByTag;
    private final MethodHandle memoryDescGetSize;
    private final MethodHandle memoryDescEqual;
    private final MethodHandle reorderPrimitiveDescCreate;
    private final MethodHandle primitiveCreate;
    private final MethodHandle memoryCreate;
    private final MethodHandle memorySetDataHandle;
    private final MethodHandle primitiveExecute;
    private final MethodHandle streamWait;
    private final MethodHandle primitiveDestroy;
    private final MethodHandle memoryDestroy;
    private final MethodHandle ompSetNumThreads;          // null where oneDNN does not thread with OpenMP
    private final MemorySegment engine;
    private final MemorySegment stream;

    private Dnnl(SymbolLookup lib, String library) throws Throwable {
        this.library = library;
        MemorySegment v = (MemorySegment) handle(lib, "dnnl_version", FunctionDescriptor.of(ADDRESS)).invokeExact();
        v = v.reinterpret(32);
        int major = v.get(JAVA_INT, 0);
        int minor = v.get(JAVA_INT, 4);
        int patch = v.get(JAVA_INT, 8);
        cpuRuntime = v.get(JAVA_INT, 24);
        version = major + "." + minor + "." + patch;
        if (major != 2) {
            throw new IllegalStateException("oneDNN " + version + " is not 2.x (the 2.x C API is bound here)");
        }
        isa = (int) handle(lib, "dnnl_get_effective_cpu_isa", FunctionDescriptor.of(JAVA_INT)).invokeExact();
        memoryDescInitByStrides = handle(lib, "dnnl_memory_desc_init_by_strides",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        matmulDescInit = handle(lib, "dnnl_matmul_desc_init", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        primitiveAttrCreate = handle(lib, "dnnl_primitive_attr_create", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        primitiveAttrSetPostOps = handle(lib, "dnnl_primitive_attr_set_post_ops", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        postOpsCreate = handle(lib, "dnnl_post_ops_create", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        postOpsAppendSum = handle(lib, "dnnl_post_ops_append_sum", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_FLOAT));
        primitiveDescCreate = handle(lib, "dnnl_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        primitiveDescQuery = handle(lib, "dnnl_primitive_desc_query", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        primitiveCreate = handle(lib, "dnnl_primitive_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        primitiveDescQueryMd = handle(lib, "dnnl_primitive_desc_query_md", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
        memoryDescInitByTag = handle(lib, "dnnl_memory_desc_init_by_tag", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        memoryDescGetSize = handle(lib, "dnnl_memory_desc_get_size", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        memoryDescEqual = handle(lib, "dnnl_memory_desc_equal", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        reorderPrimitiveDescCreate = handle(lib, "dnnl_reorder_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        memoryCreate = handle(lib, "dnnl_memory_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        memorySetDataHandle = handle(lib, "dnnl_memory_set_data_handle", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        primitiveExecute = handle(lib, "dnnl_primitive_execute", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
        streamWait = handle(lib, "dnnl_stream_wait", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        primitiveDestroy = handle(lib, "dnnl_primitive_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        memoryDestroy = handle(lib, "dnnl_memory_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        ompSetNumThreads = cpuRuntime == RUNTIME_OMP ? ompThreadsHandle() : null;

        MemorySegment out = arena.allocate(ADDRESS);
        check("dnnl_engine_create", (int) handle(lib, "dnnl_engine_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG))
                .invokeExact(out, ENGINE_CPU, 0L));
        engine = out.get(ADDRESS, 0);
        check("dnnl_stream_create", (int) handle(lib, "dnnl_stream_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT))
                .invokeExact(out, engine, STREAM_DEFAULT_FLAGS));
        stream = out.get(ADDRESS, 0);
    }

    /**
     * Opens oneDNN: the file named by {@code libraryPath} when given (VL4J_DNNL), else {@code libdnnl.so.2} (then
     * {@code libdnnl.so}) by name through the system library path.
     */
    /**
     * OMP_WAIT_POLICY=PASSIVE for the OpenMP runtime oneDNN brings (libgomp reads it once, when it is loaded), unless
     * the environment sets it: by default OpenMP's threads spin for a while after each product, on the cores the
     * Java kernels need next. Training alternates the two at every layer; with spinning threads a step of the tiny
     * model took about 3× longer.
     */
    private static void passiveOpenMpThreads() {
        if (System.getenv("OMP_WAIT_POLICY") != null) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            Linker linker = Linker.nativeLinker();
            MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
            int ignored = (int) setenv.invokeExact(arena.allocateFrom("OMP_WAIT_POLICY"), arena.allocateFrom("PASSIVE"), 0);
        } catch (Throwable e) {
            // no setenv (not glibc?): OpenMP keeps its default policy
        }
    }

    static Dnnl open(String libraryPath) throws Unavailable {
        passiveOpenMpThreads();
        SymbolLookup lib;
        String name;
        if (libraryPath != null && !libraryPath.isBlank()) {
            Path p = Path.of(libraryPath);
            if (!Files.isRegularFile(p)) {
                throw new Unavailable("oneDNN library " + libraryPath + " not found", null, true);
            }
            name = p.toString();
            if (!isElf(p)) {
                throw new Unavailable("cannot load " + libraryPath + ": not a shared library", null, false);
            }
            try {
                lib = SymbolLookup.libraryLookup(p, Arena.global());
            } catch (RuntimeException e) {
                throw new Unavailable("cannot load " + libraryPath + ": " + oneLine(e), e, false);
            }
        } else {
            lib = null;
            name = null;
            for (String candidate : new String[] {"libdnnl.so.2", "libdnnl.so"}) {
                try {
                    lib = SymbolLookup.libraryLookup(candidate, Arena.global());
                    name = candidate;
                    break;
                } catch (RuntimeException e) {
                    // not on the library path under this name
                }
            }
            if (lib == null) {
                throw new Unavailable("oneDNN (libdnnl.so.2) not found on the library path (Debian: apt-get install libdnnl2)", null, true);
            }
        }
        try {
            return new Dnnl(lib, name);
        } catch (Throwable e) {
            throw new Unavailable(name + " is not a usable oneDNN 2.x: " + oneLine(e), e, false);
        }
    }

    /** True when the file starts like an ELF object (dlopen of anything else only produces a worse message). */
    private static boolean isElf(Path p) {
        try (var in = Files.newInputStream(p)) {
            byte[] magic = in.readNBytes(4);
            return magic.length == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
        } catch (java.io.IOException e) {
            return false;
        }
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.lines().findFirst().orElse(m);
    }

    private static MethodHandle handle(SymbolLookup lib, String function, FunctionDescriptor fd) {
        MemorySegment symbol = lib.find(function)
                .orElseThrow(() -> new IllegalStateException("the library has no function " + function));
        return LINKER.downcallHandle(symbol, fd);
    }

    /** omp_set_num_threads from the OpenMP runtime oneDNN was linked with (already loaded with it). */
    private static MethodHandle ompThreadsHandle() {
        for (String name : new String[] {"libgomp.so.1", "libiomp5.so", "libomp.so"}) {
            try {
                SymbolLookup omp = SymbolLookup.libraryLookup(name, Arena.global());
                return omp.find("omp_set_num_threads").map(s -> LINKER.downcallHandle(s, FunctionDescriptor.ofVoid(JAVA_INT))).orElse(null);
            } catch (RuntimeException e) {
                // try the next runtime
            }
        }
        return null;
    }

    private static void check(String function, int status) {
        if (status != 0) {
            String why = status > 0 && status < STATUS.length ? STATUS[status] : "status " + status;
            throw new IllegalStateException("oneDNN " + function + " failed: " + why);
        }
    }

    String version() {
        return version;
    }

    String library() {
        return library;
    }

    /** The ISA oneDNN's kernels use on this CPU (dnnl_get_effective_cpu_isa), by its oneDNN name. */
    String isa() {
        return switch (isa) {
            case 0x1 -> "sse41";
            case 0x3 -> "avx";
            case 0x7 -> "avx2";
            case 0x407 -> "avx2_vnni";
            case 0xf, 0x1f -> "avx512_mic";
            case 0x27 -> "avx512_core";
            case 0x67 -> "avx512_core_vnni";
            case 0xe7 -> "avx512_core_bf16";
            case 0x3e7 -> "avx512_core_amx";
            default -> String.format(Locale.ROOT, "isa 0x%x", isa);
        };
    }

    /** True where oneDNN's ISA is at least AVX2 (its JIT kernels then use the host's vector units). */
    boolean hasJitKernels() {
        return (isa & 0x7) == 0x7;
    }

    /** True where oneDNN's kernels have a bfloat16 dot product (AVX512-BF16 or AMX): bfloat16 inputs then pay. */
    boolean hasBf16Dot() {
        return isa == 0xe7 || isa == 0x3e7;
    }

    /** The threading runtime oneDNN was built with. */
    String runtime() {
        return switch (cpuRuntime) {
            case 1 -> "sequential";
            case RUNTIME_OMP -> "OpenMP";
            case 4 -> "TBB";
            case 8 -> "threadpool";
            default -> "runtime " + cpuRuntime;
        };
    }

    /** Sets the OpenMP team size of the calling thread's next products (a no-op for other runtimes). */
    void setThreads(int threads) {
        if (ompSetNumThreads != null) {
            try {
                ompSetNumThreads.invokeExact(threads);
            } catch (Throwable e) {
                throw new IllegalStateException("omp_set_num_threads failed", e);
            }
        }
    }

    /**
     * A float32 matmul primitive: dst[M, N] (+)= src[M, K] · wei[K, N] (+ bias[1, N]), each operand plain with the
     * given strides (elements); dst row-major. With {@code accumulate}, dst's old values are added (a sum post-op).
     */
    Matmul matmul(long mRows, long kDepth, long nCols, long[] srcStrides, long[] weiStrides, boolean bias, boolean accumulate) {
        return matmul(mRows, kDepth, nCols, Type.F32, srcStrides, Type.F32, weiStrides, bias, accumulate);
    }

    /**
     * As above with src and weights of the given types (bfloat16 × bfloat16 products summed in float32, where the
     * ISA has them); bias and dst stay float32. Throws where oneDNN has no implementation for the types on this CPU.
     */
    Matmul matmul(long mRows, long kDepth, long nCols, Type srcType, long[] srcStrides, Type weiType, long[] weiStrides,
                  boolean bias, boolean accumulate) {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment srcMd = desc(tmp, new long[] {mRows, kDepth}, srcType, srcStrides);
            MemorySegment weiMd = weiStrides != null ? desc(tmp, new long[] {kDepth, nCols}, weiType, weiStrides)
                    : anyLayout(tmp, new long[] {kDepth, nCols}, weiType);
            MemorySegment dstMd = desc(tmp, new long[] {mRows, nCols}, Type.F32, new long[] {nCols, 1});
            MemorySegment biasMd = bias ? desc(tmp, new long[] {1, nCols}, Type.F32, new long[] {nCols, 1}) : MemorySegment.NULL;
            MemorySegment op = tmp.allocate(DESC_BYTES, 64);
            check("dnnl_matmul_desc_init", (int) matmulDescInit.invokeExact(op, srcMd, weiMd, biasMd, dstMd));
            MemorySegment attr = MemorySegment.NULL;
            MemorySegment out = tmp.allocate(ADDRESS);
            if (accumulate) {
                check("dnnl_post_ops_create", (int) postOpsCreate.invokeExact(out));
                MemorySegment postOps = out.get(ADDRESS, 0);
                check("dnnl_post_ops_append_sum", (int) postOpsAppendSum.invokeExact(postOps, 1f));
                check("dnnl_primitive_attr_create", (int) primitiveAttrCreate.invokeExact(out));
                attr = out.get(ADDRESS, 0);
                check("dnnl_primitive_attr_set_post_ops", (int) primitiveAttrSetPostOps.invokeExact(attr, postOps));
            }
            check("dnnl_primitive_desc_create", (int) primitiveDescCreate.invokeExact(out, op, attr, engine, MemorySegment.NULL));
            MemorySegment pd = out.get(ADDRESS, 0);
            check("dnnl_primitive_desc_query", (int) primitiveDescQuery.invokeExact(pd, QUERY_IMPL_INFO_STR, 0, out));
            String impl = out.get(ADDRESS, 0).reinterpret(256).getString(0);
            MemorySegment weightsLayout = MemorySegment.NULL;
            if (weiStrides == null) {
                // the layout the implementation chose for the weights (its descriptor lives as long as the primitive's)
                weightsLayout = (MemorySegment) primitiveDescQueryMd.invokeExact(pd, QUERY_WEIGHTS_MD, 0);
                weiMd = weightsLayout;
            }
            check("dnnl_primitive_create", (int) primitiveCreate.invokeExact(out, pd));
            MemorySegment primitive = out.get(ADDRESS, 0);
            // (the primitive, its descriptor and the attributes live as long as the process: a few per shape)
            MemorySegment args = arena.allocate(MemoryLayout.sequenceLayout(4, MemoryLayout.structLayout(
                    JAVA_INT.withName("arg"), MemoryLayout.paddingLayout(4), ADDRESS.withName("memory"))));
            int nargs = 0;
            nargs = arg(args, nargs, ARG_SRC, memory(srcMd));
            nargs = arg(args, nargs, ARG_WEIGHTS, memory(weiMd));
            nargs = arg(args, nargs, ARG_DST, memory(dstMd));
            if (bias) {
                nargs = arg(args, nargs, ARG_BIAS, memory(biasMd));
            }
            return new Matmul(primitive, args, nargs, impl, weightsLayout);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("oneDNN matmul: " + e, e);
        }
    }

    /** A descriptor that leaves the layout to the implementation (dnnl_format_tag_any). */
    private MemorySegment anyLayout(Arena tmp, long[] dims, Type type) throws Throwable {
        MemorySegment md = tmp.allocate(DESC_BYTES, 64);
        MemorySegment d = tmp.allocateFrom(JAVA_LONG, dims);
        check("dnnl_memory_desc_init_by_tag", (int) memoryDescInitByTag.invokeExact(md, dims.length, d, type.code, FORMAT_TAG_ANY));
        return md;
    }

    /** Bytes a descriptor's layout occupies. */
    long bytes(MemorySegment layout) {
        try {
            return (long) memoryDescGetSize.invokeExact(layout);
        } catch (Throwable e) {
            throw new IllegalStateException("oneDNN: " + e, e);
        }
    }

    /** True where two descriptors describe the same layout. */
    boolean sameLayout(MemorySegment a, MemorySegment b) {
        try {
            return (int) memoryDescEqual.invokeExact(a, b) != 0;
        } catch (Throwable e) {
            throw new IllegalStateException("oneDNN: " + e, e);
        }
    }

    /**
     * The plain matrix [rows, cols] of the given type and strides at from, re-laid into layout (a descriptor a
     * primitive chose) in new memory of the given arena: one reorder, run on the current thread count.
     */
    MemorySegment reorder(MemorySegment from, long rows, long cols, Type type, long[] strides, MemorySegment layout, Arena into) {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment plain = desc(tmp, new long[] {rows, cols}, type, strides);
            MemorySegment out = tmp.allocate(ADDRESS);
            check("dnnl_reorder_primitive_desc_create", (int) reorderPrimitiveDescCreate.invokeExact(out, plain, engine, layout, engine,
                    MemorySegment.NULL));
            MemorySegment pd = out.get(ADDRESS, 0);      // (kept, as the matmuls' are: one small descriptor per weight)
            check("dnnl_primitive_create", (int) primitiveCreate.invokeExact(out, pd));
            MemorySegment primitive = out.get(ADDRESS, 0);
            MemorySegment to = into.allocate(bytes(layout), 4096);
            MemorySegment src = memoryFor(tmp, plain, from);
            MemorySegment dst = memoryFor(tmp, layout, to);
            MemorySegment args = tmp.allocate(32);
            arg(args, 0, ARG_FROM, src);
            arg(args, 1, ARG_TO, dst);
            check("dnnl_primitive_execute", (int) primitiveExecute.invokeExact(primitive, stream, 2, args));
            check("dnnl_stream_wait", (int) streamWait.invokeExact(stream));
            check("dnnl_memory_destroy", (int) memoryDestroy.invokeExact(src));
            check("dnnl_memory_destroy", (int) memoryDestroy.invokeExact(dst));
            check("dnnl_primitive_destroy", (int) primitiveDestroy.invokeExact(primitive));
            return to;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("oneDNN reorder: " + e, e);
        }
    }

    private MemorySegment memoryFor(Arena tmp, MemorySegment md, MemorySegment data) throws Throwable {
        MemorySegment out = tmp.allocate(ADDRESS);
        check("dnnl_memory_create", (int) memoryCreate.invokeExact(out, md, engine, data));
        return out.get(ADDRESS, 0);
    }

    private MemorySegment desc(Arena tmp, long[] dims, Type type, long[] strides) throws Throwable {
        MemorySegment md = tmp.allocate(DESC_BYTES, 64);
        MemorySegment d = tmp.allocateFrom(JAVA_LONG, dims);
        MemorySegment s = tmp.allocateFrom(JAVA_LONG, strides);
        check("dnnl_memory_desc_init_by_strides", (int) memoryDescInitByStrides.invokeExact(md, dims.length, d, type.code, s));
        return md;
    }

    /** A memory object for the descriptor with no buffer yet (each run sets its data handle). */
    private MemorySegment memory(MemorySegment md) throws Throwable {
        MemorySegment out = arena.allocate(ADDRESS);
        check("dnnl_memory_create", (int) memoryCreate.invokeExact(out, md, engine, MemorySegment.NULL));
        return out.get(ADDRESS, 0);
    }

    private static int arg(MemorySegment args, int i, int kind, MemorySegment memory) {
        args.set(JAVA_INT, 16L * i, kind);
        args.set(ADDRESS, 16L * i + 8, memory);
        return i + 1;
    }

    /** One primitive with its argument list; not for concurrent runs (the memory objects are shared). */
    final class Matmul {
        private final MemorySegment primitive;
        private final MemorySegment args;
        private final int nargs;
        private final String impl;
        private final MemorySegment weightsLayout;

        private Matmul(MemorySegment primitive, MemorySegment args, int nargs, String impl, MemorySegment weightsLayout) {
            this.primitive = primitive;
            this.args = args;
            this.nargs = nargs;
            this.impl = impl;
            this.weightsLayout = weightsLayout;
        }

        /** The weights' layout the implementation chose (a primitive made with weiStrides null), else NULL. */
        MemorySegment weightsLayout() {
            return weightsLayout;
        }

        /** oneDNN's name of the implementation it chose, e.g. "gemm:jit". */
        String impl() {
            return impl;
        }

        /** Runs on native segments (bias null without a bias) and waits for the result. */
        void run(MemorySegment src, MemorySegment weights, MemorySegment bias, MemorySegment dst) {
            try {
                setHandle(0, src);
                setHandle(1, weights);
                setHandle(2, dst);
                if (nargs == 4) {
                    setHandle(3, bias);
                }
                check("dnnl_primitive_execute", (int) primitiveExecute.invokeExact(primitive, stream, nargs, args));
                check("dnnl_stream_wait", (int) streamWait.invokeExact(stream));
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException("oneDNN matmul: " + e, e);
            }
        }

        /** Frees the primitive and its memory objects (not the memory they pointed to). */
        void close() {
            try {
                for (int i = 0; i < nargs; i++) {
                    check("dnnl_memory_destroy", (int) memoryDestroy.invokeExact(args.get(ADDRESS, 16L * i + 8)));
                }
                check("dnnl_primitive_destroy", (int) primitiveDestroy.invokeExact(primitive));
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException("oneDNN: " + e, e);
            }
        }

        private void setHandle(int i, MemorySegment data) throws Throwable {
            if (!data.isNative()) {
                throw new IllegalArgumentException("oneDNN needs native memory, not a heap segment");
            }
            MemorySegment memory = args.get(ADDRESS, 16L * i + 8);
            check("dnnl_memory_set_data_handle", (int) memorySetDataHandle.invokeExact(memory, data));
        }
    }
}
