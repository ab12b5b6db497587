package ai.vl4j.nn;

import ai.vl4j.InvalidInputException;
import ai.vl4j.tensor.Tensor;

/** nn.Embedding: row ids of a table [V, D] kept memory-mapped, widened to float32 as they are looked up. */
public final class Embedding {
    private final Tensor table; // [V, D]

    public Embedding(Tensor table) {
        this.table = table;
    }

    public int dim() {
        return table.cols();
    }

    /** out [n, D] = table[ids[i]] for the n ids. */
    public void forward(int[] ids, float[] out) {
        forward(ids, out, 0);
    }

    /** out [row0 + i] = table[ids[i]]: the rows of one sequence of a batch [B·T, D]. */
    public void forward(int[] ids, float[] out, int row0) {
        int d = dim();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= table.rows()) {
                throw new InvalidInputException("token id " + ids[i] + " is outside " + table.name() + " (" + table.rows() + " rows)");
            }
            table.rowToFloat(ids[i], 0, d, out, (row0 + i) * d);
        }
    }
}
