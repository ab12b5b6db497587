package ai.vl4j.vision;

/** The input steps the towers share: per-channel normalisation and cutting the image into patches. */
public final class Pixels {
    private Pixels() {
    }

    /** (x − mean_c)/std_c in float32 (torchvision Normalize) on a copy of image [3, side, side]; a plain copy when mean is null. */
    public static float[] normalize(float[] image, int side, float[] mean, float[] std) {
        int plane = side * side;
        if (image.length != 3 * plane) {
            throw new IllegalArgumentException("the tower expects [3, " + side + ", " + side + "] pixels, got " + image.length + " values");
        }
        float[] out = image.clone();
        if (mean != null) {
            for (int c = 0; c < 3; c++) {
                for (int i = c * plane; i < (c + 1) * plane; i++) {
                    out[i] = (out[i] - mean[c]) / std[c];
                }
            }
        }
        return out;
    }

    /**
     * [3, S, S] -> [(S/P)², 3·P·P]: row (py, px) holds that patch in conv-weight order (c, ky, kx), so the
     * P×P stride-P patch embedding is one matrix product with the conv weight seen as [D, 3·P·P].
     */
    public static float[] patches(float[] image, int side, int patch) {
        int grid = side / patch;
        int rowLen = 3 * patch * patch;
        float[] out = new float[grid * grid * rowLen];
        for (int py = 0; py < grid; py++) {
            for (int px = 0; px < grid; px++) {
                int o = (py * grid + px) * rowLen;
                for (int c = 0; c < 3; c++) {
                    for (int ky = 0; ky < patch; ky++) {
                        System.arraycopy(image, c * side * side + (py * patch + ky) * side + px * patch, out, o, patch);
                        o += patch;
                    }
                }
            }
        }
        return out;
    }
}
