package ai.vl4j.sam;

import ai.vl4j.tensor.Attention;
import ai.vl4j.tensor.VectorMath;

/**
 * The decomposed relative-position terms of one attention grid (side × side tokens), added to the scores of
 * query (y, x), head h, key (ky, kx):
 * <pre>
 *   Σ_c q[c]·Rh[y − ky + side − 1, c]  +  Σ_c q[c]·Rw[x − kx + side − 1, c]      (q unscaled)
 * </pre>
 * The 2·side dot products are computed once per (head, query); each key then costs one addition.
 */
record RelativePosition(float[] qkv, int base, int stride, int headDim, int side, float[] relPosH, float[] relPosW)
        implements Attention.ScoreBias {

    @Override
    public int termsLength() {
        return 2 * side;
    }

    @Override
    public void terms(int head, int queryRow, float[] dst, int off) {
        int y = queryRow / side;
        int x = queryRow % side;
        int q = base + queryRow * stride + head * headDim;
        for (int k = 0; k < side; k++) {
            dst[off + k] = VectorMath.dot(qkv, q, relPosH, (y - k + side - 1) * headDim, headDim);
            dst[off + side + k] = VectorMath.dot(qkv, q, relPosW, (x - k + side - 1) * headDim, headDim);
        }
    }

    @Override
    public void add(float[] terms, int termsOff, int keyStart, float[] scores, int scoresOff, int count) {
        int ky = keyStart / side;
        int kx = keyStart % side;
        int j = 0;
        while (j < count) {                              // one run of keys per grid row ky
            int run = Math.min(count - j, side - kx);
            VectorMath.addInPlace(scores, scoresOff + j, terms[termsOff + ky], terms, termsOff + side + kx, run);
            j += run;
            ky++;
            kx = 0;
        }
    }
}
