package ai.vl4j.sam;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The SAM pieces that are easy to get subtly wrong, each against an independent computation. */
class SamPiecesTest {

    @Test
    void windowPartitionPadsWithZerosAndRoundTrips() {
        int grid = 9, c = 2, side = 4;                         // 9 = 2·4 + 1: three windows per side, 3 rows/cols of padding
        float[] x = new float[grid * grid * c];
        for (int i = 0; i < x.length; i++) {
            x[i] = i + 1;                                      // no zeros in the real tokens
        }
        float[] windows = Windows.split(x, grid, c, side);
        assertEquals(9 * side * side * c, windows.length);
        // token (y, x) lands in window (y/4)·3 + x/4 at (y%4)·4 + x%4
        for (int y = 0; y < 12; y++) {
            for (int x0 = 0; x0 < 12; x0++) {
                int w = (y / side) * 3 + x0 / side;
                int t = (y % side) * side + x0 % side;
                for (int ch = 0; ch < c; ch++) {
                    float want = y < grid && x0 < grid ? x[(y * grid + x0) * c + ch] : 0f;
                    assertEquals(want, windows[(w * side * side + t) * c + ch], "padded grid (" + y + "," + x0 + ")");
                }
            }
        }
        assertArrayEquals(x, Windows.merge(windows, grid, c, side));
        assertEquals(25, Windows.count(64, 14));               // the real geometry: 64 → 70, 5×5 windows
    }

    /** The bias of query (y, x) for key (ky, kx): q·Rh[y − ky + s − 1] + q·Rw[x − kx + s − 1], q unscaled. */
    @Test
    void relativePositionTermsFollowTheIndexMapping() {
        Random rnd = new Random(5);
        int side = 5, hd = 3, heads = 2, stride = heads * hd * 3, base = 7;
        float[] qkv = new float[base + side * side * stride];
        float[] relH = new float[(2 * side - 1) * hd];
        float[] relW = new float[(2 * side - 1) * hd];
        for (float[] a : new float[][] {qkv, relH, relW}) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) rnd.nextGaussian();
            }
        }
        RelativePosition bias = new RelativePosition(qkv, base, stride, hd, side, relH, relW);
        for (int head = 0; head < heads; head++) {
            for (int query = 0; query < side * side; query++) {
                float[] scores = new float[side * side];
                scores[3] = 1f;                                // bias is added to what is there
                float[] terms = new float[bias.termsLength() + 2];
                bias.terms(head, query, terms, 2);
                bias.add(terms, 2, 0, scores, 0, 10);          // keys in two ranges, as the kernel's blocks do
                bias.add(terms, 2, 10, scores, 10, side * side - 10);
                int y = query / side, x = query % side;
                for (int ky = 0; ky < side; ky++) {
                    for (int kx = 0; kx < side; kx++) {
                        double want = ky * side + kx == 3 ? 1 : 0;
                        for (int c = 0; c < hd; c++) {
                            double q = qkv[base + query * stride + head * hd + c];
                            want += q * relH[(y - ky + side - 1) * hd + c] + q * relW[(x - kx + side - 1) * hd + c];
                        }
                        assertEquals(want, scores[ky * side + kx], 1e-5, "head " + head + " query " + query + " key " + ky + "," + kx);
                    }
                }
            }
        }
    }
}
