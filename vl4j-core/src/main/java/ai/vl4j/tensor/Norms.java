package ai.vl4j.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row-wise normalisations over the last dimension, accumulated in double, stored as float32.
 *
 * <p>The forward passes run on vectors: floats are widened to doubles half a register at a time (FH: half the
 * preferred width, DS: doubles of the full width, so a widening fills one register), summed in DS's lanes and
 * the lanes added in a fixed order ({@link #sumLanes}), so a row's statistics do not depend on the JIT tier.
 * The normalising pass does what the scalar form does, lane by lane: the same double arithmetic, one rounding to
 * float, then float multiply and add.
 */
public final class Norms {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> FH = VectorSpecies.of(float.class, VectorShape.forBitSize(FS.vectorBitSize() / 2));
    private static final VectorSpecies<Double> DS = VectorSpecies.of(double.class, FS.vectorShape());
    private static final int HALF = FH.length();

    private Norms() {
    }

    /**
     * LayerNorm of each of the n rows of x [n, d] into out [n, d] (out may be x):
     * (x - mean) / sqrt(var + eps) · gamma + beta, with the biased variance.
     */
    public static void layerNorm(float[] x, float[] out, int n, int d, float[] gamma, float[] beta, float eps) {
        Parallel.forRange(0, n, 16, (lo, hi) -> {
            double[] lanes = new double[DS.length()];
            for (int r = lo; r < hi; r++) {
                int off = r * d;
                double mean = mean(x, off, d, lanes);
                double inv = invStd(x, off, d, mean, eps, lanes);
                int i = 0;
                for (; i <= d - HALF; i += HALF) {
                    FloatVector y = ((FloatVector) widen(x, off + i).sub(mean).mul(inv).convertShape(VectorOperators.D2F, FH, 0));
                    y.mul(FloatVector.fromArray(FH, gamma, i)).add(FloatVector.fromArray(FH, beta, i)).intoArray(out, off + i);
                }
                for (; i < d; i++) {
                    out[off + i] = (float) ((x[off + i] - mean) * inv) * gamma[i] + beta[i];
                }
            }
        });
    }

    /**
     * RMSNorm (LLaMA) of each of the n rows of x [n, d] into out: x / sqrt(mean(x²) + eps) · weight.
     */
    public static void rmsNorm(float[] x, float[] out, int n, int d, float[] weight, float eps) {
        Parallel.forRange(0, n, 16, (lo, hi) -> {
            double[] lanes = new double[DS.length()];
            for (int r = lo; r < hi; r++) {
                int off = r * d;
                float inv = (float) invRms(x, off, d, eps, lanes);
                int i = 0;
                for (; i <= d - FS.length(); i += FS.length()) {
                    FloatVector.fromArray(FS, weight, i).mul(FloatVector.fromArray(FS, x, off + i).mul(inv)).intoArray(out, off + i);
                }
                for (; i < d; i++) {
                    out[off + i] = weight[i] * (x[off + i] * inv);
                }
            }
        });
    }

    /**
     * Backward of {@link #rmsNorm}: with r = 1/sqrt(mean(x²) + eps) per row and y = w·(x·r),
     * dx = r·(w·dy) − x·r³·Σ(w·dy·x)/d  (written to dx), and dw += Σ_rows dy·x·r (dw null: the weight is frozen).
     * Sums in double.
     */
    public static void rmsNormBackward(float[] x, float[] dy, int n, int d, float[] weight, float eps, float[] dx, float[] dw) {
        double[] dwSum = dw == null ? null : new double[d];
        for (int r = 0; r < n; r++) {
            int off = r * d;
            double inv = invRms(x, off, d, eps);
            double dot = 0;
            for (int i = 0; i < d; i++) {
                dot += (double) weight[i] * dy[off + i] * x[off + i];
            }
            double c = inv * inv * inv * dot / d;
            for (int i = 0; i < d; i++) {
                dx[off + i] = (float) (inv * weight[i] * dy[off + i] - x[off + i] * c);
                if (dwSum != null) {
                    dwSum[i] += (double) dy[off + i] * x[off + i] * inv;
                }
            }
        }
        if (dw != null) {
            for (int i = 0; i < d; i++) {
                dw[i] += (float) dwSum[i];
            }
        }
    }

    /**
     * Backward of {@link #layerNorm}: with x̂ = (x − mean)·r and g = dy·γ per row, dx = r·(g − mean(g) − x̂·mean(g·x̂))
     * (written to dx; dx null: not needed), dγ += Σ_rows dy·x̂ and dβ += Σ_rows dy (null when frozen). Sums in double.
     */
    public static void layerNormBackward(float[] x, float[] dy, int n, int d, float[] gamma, float eps, float[] dx,
                                         float[] dGamma, float[] dBeta) {
        double[] dg = dGamma == null ? null : new double[d];
        double[] db = dBeta == null ? null : new double[d];
        double[] xhat = new double[d];
        for (int r = 0; r < n; r++) {
            int off = r * d;
            double mean = mean(x, off, d);
            double inv = invStd(x, off, d, mean, eps);
            double gMean = 0;
            double gxMean = 0;
            for (int i = 0; i < d; i++) {
                xhat[i] = (x[off + i] - mean) * inv;
                double g = (double) dy[off + i] * gamma[i];
                gMean += g;
                gxMean += g * xhat[i];
                if (dg != null) {
                    dg[i] += dy[off + i] * xhat[i];
                }
                if (db != null) {
                    db[i] += dy[off + i];
                }
            }
            gMean /= d;
            gxMean /= d;
            if (dx != null) {
                for (int i = 0; i < d; i++) {
                    dx[off + i] = (float) (inv * ((double) dy[off + i] * gamma[i] - gMean - xhat[i] * gxMean));
                }
            }
        }
        for (int i = 0; i < d; i++) {
            if (dGamma != null) {
                dGamma[i] += (float) dg[i];
            }
            if (dBeta != null) {
                dBeta[i] += (float) db[i];
            }
        }
    }

    /** x[off, off + HALF) widened to doubles. */
    private static DoubleVector widen(float[] x, int off) {
        return (DoubleVector) FloatVector.fromArray(FH, x, off).convertShape(VectorOperators.F2D, DS, 0);
    }

    /** The lanes of v added in index order (lanes: a scratch array of DS's length). */
    private static double sumLanes(DoubleVector v, double[] lanes) {
        v.intoArray(lanes, 0);
        double s = 0;
        for (double lane : lanes) {
            s += lane;
        }
        return s;
    }

    /** The mean of x[off, off + d) on vectors, in double. */
    private static double mean(float[] x, int off, int d, double[] lanes) {
        DoubleVector acc0 = DoubleVector.zero(DS), acc1 = acc0;
        int i = 0;
        for (; i <= d - 2 * HALF; i += 2 * HALF) {
            acc0 = acc0.add(widen(x, off + i));
            acc1 = acc1.add(widen(x, off + i + HALF));
        }
        double sum = sumLanes(acc0.add(acc1), lanes);
        for (; i < d; i++) {
            sum += x[off + i];
        }
        return sum / d;
    }

    /** {@link #invStd(float[], int, int, double, float)} on vectors. */
    private static double invStd(float[] x, int off, int d, double mean, float eps, double[] lanes) {
        DoubleVector acc0 = DoubleVector.zero(DS), acc1 = acc0;
        int i = 0;
        for (; i <= d - 2 * HALF; i += 2 * HALF) {
            DoubleVector c0 = widen(x, off + i).sub(mean);
            DoubleVector c1 = widen(x, off + i + HALF).sub(mean);
            acc0 = c0.fma(c0, acc0);
            acc1 = c1.fma(c1, acc1);
        }
        double sq = sumLanes(acc0.add(acc1), lanes);
        for (; i < d; i++) {
            double c = x[off + i] - mean;
            sq += c * c;
        }
        return 1.0 / Math.sqrt(sq / d + eps);
    }

    /** {@link #invRms(float[], int, int, float)} on vectors. */
    private static double invRms(float[] x, int off, int d, float eps, double[] lanes) {
        DoubleVector acc0 = DoubleVector.zero(DS), acc1 = acc0;
        int i = 0;
        for (; i <= d - 2 * HALF; i += 2 * HALF) {
            DoubleVector a = widen(x, off + i);
            DoubleVector b = widen(x, off + i + HALF);
            acc0 = a.fma(a, acc0);
            acc1 = b.fma(b, acc1);
        }
        double sq = sumLanes(acc0.add(acc1), lanes);
        for (; i < d; i++) {
            sq += (double) x[off + i] * x[off + i];
        }
        return 1.0 / Math.sqrt(sq / d + eps);
    }

    /** The mean of x[off, off + d), in double. */
    private static double mean(float[] x, int off, int d) {
        double sum = 0;
        for (int i = 0; i < d; i++) {
            sum += x[off + i];
        }
        return sum / d;
    }

    /**
     * 1/sqrt(var + eps) of x[off, off + d) about mean (the biased variance), centred in double: inputs with a large
     * mean and a tiny spread would lose digits in float.
     */
    private static double invStd(float[] x, int off, int d, double mean, float eps) {
        double sq = 0;
        for (int i = 0; i < d; i++) {
            double c = x[off + i] - mean;
            sq += c * c;
        }
        return 1.0 / Math.sqrt(sq / d + eps);
    }

    /** 1/sqrt(mean(x²) + eps) of x[off, off + d), in double. */
    private static double invRms(float[] x, int off, int d, float eps) {
        double sq = 0;
        for (int i = 0; i < d; i++) {
            sq += (double) x[off + i] * x[off + i];
        }
        return 1.0 / Math.sqrt(sq / d + eps);
    }
}
