package ai.vl4j.tensor;

import java.util.Locale;

/** Element types of safetensors files. Kernels compute on F32, F16 and BF16; the others are read for tests and metadata. */
public enum DType {
    BOOL(1), U8(1), I8(1), I16(2), U16(2), I32(4), U32(4), I64(8), U64(8), F16(2), BF16(2), F32(4), F64(8);

    /** Bytes per element. */
    public final int size;

    DType(int size) {
        this.size = size;
    }

    /** True for the types a weight may have: the kernels widen each to float32 exactly. */
    public boolean isFloatWeight() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** The safetensors spelling ("BF16", "F32", ...), or null when the name is unknown. */
    public static DType fromSafetensorsName(String name) {
        try {
            return valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
