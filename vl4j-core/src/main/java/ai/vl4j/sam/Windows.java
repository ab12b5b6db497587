package ai.vl4j.sam;

/**
 * SAM's window partition of a channels-last grid [g, g, C]: zero-pad bottom and right to a multiple of the
 * window side s, cut into ⌈g/s⌉² windows in row-major order, tokens row-major inside each window. The zero
 * pads are real tokens to the attention (the reference does not mask them). {@link #merge} is the inverse,
 * dropping the pads.
 */
final class Windows {
    private Windows() {
    }

    /** Windows per row (and per column) of the padded grid. */
    static int perSide(int grid, int side) {
        return (grid + side - 1) / side;
    }

    static int count(int grid, int side) {
        return perSide(grid, side) * perSide(grid, side);
    }

    /** [g·g, C] -> [count·s·s, C], window-major, zeros where the window covers padding. */
    static float[] split(float[] x, int grid, int c, int side) {
        int per = perSide(grid, side);
        float[] out = new float[per * per * side * side * c];
        for (int y = 0; y < grid; y++) {
            for (int x0 = 0; x0 < grid; x0++) {
                int window = (y / side) * per + x0 / side;
                int token = (y % side) * side + x0 % side;
                System.arraycopy(x, (y * grid + x0) * c, out, (window * side * side + token) * c, c);
            }
        }
        return out;
    }

    /** [count·s·s, C] -> [g·g, C]: the inverse of split, padding dropped. */
    static float[] merge(float[] windows, int grid, int c, int side) {
        int per = perSide(grid, side);
        float[] out = new float[grid * grid * c];
        for (int y = 0; y < grid; y++) {
            for (int x0 = 0; x0 < grid; x0++) {
                int window = (y / side) * per + x0 / side;
                int token = (y % side) * side + x0 % side;
                System.arraycopy(windows, (window * side * side + token) * c, out, (y * grid + x0) * c, c);
            }
        }
        return out;
    }
}
