package ai.vl4j.nn;

import ai.vl4j.InvalidInputException;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Tensor;
import java.util.List;

/** nn.Embedding: row ids of a table [V, H] (memory-mapped in the checkpoint's dtype until it trains). */
public final class Embedding implements Module {
    private final Parameter weight;   // [V, H]
    private final int vocab;
    private final int dim;

    /** A table as stored (a text tower's token embedding). */
    public Embedding(Tensor table) {
        this(Parameter.matrix(table, table));
    }

    public Embedding(Parameter weight) {
        this.weight = weight;
        this.vocab = weight.matrix().rows();
        this.dim = weight.matrix().cols();
    }

    public static Embedding load(Weights w, String name, int vocab, int dim) {
        Tensor t = w.require(name, vocab, dim);
        return new Embedding(Parameter.matrix(t, t));
    }

    public Parameter weight() {
        return weight;
    }

    public int vocab() {
        return vocab;
    }

    public int dim() {
        return dim;
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(weight);
    }

    /** out [n, H] = table[ids[i]] for the n ids (exact widening of stored rows). */
    public void forward(int[] ids, float[] out) {
        forward(ids, out, 0);
    }

    /** out [row0 + i] = table[ids[i]]: the rows of one sequence of a batch [B·T, H]. */
    public void forward(int[] ids, float[] out, int row0) {
        for (int t = 0; t < ids.length; t++) {
            row(ids[t], out, (row0 + t) * dim);
        }
    }

    /** Row id into out [H] from the float offset off. */
    public void row(int id, float[] out, int off) {
        if (id < 0 || id >= vocab) {
            throw new InvalidInputException("token id " + id + " is outside " + weight.name() + " (" + vocab + " rows)");
        }
        weight.matrix().rowToFloat(id, 0, dim, out, off);
    }

    /**
     * Backward of {@link #forward} while the table trains: row ids[t] of its gradient += dy row t, for the rows t
     * with use[t] (null: all). Rows whose lookups were overwritten (image positions) take no gradient.
     */
    public void backward(int[] ids, float[] dy, boolean[] use) {
        if (!weight.trainable()) {
            return;
        }
        float[] grad = weight.grad();
        for (int t = 0; t < ids.length; t++) {
            if (use == null || use[t]) {
                int at = ids[t] * dim;
                for (int c = 0; c < dim; c++) {
                    grad[at + c] += dy[t * dim + c];
                }
            }
        }
    }

    /** Rows of ids: [ids.length, H]. */
    public float[] forward(int[] ids) {
        float[] out = new float[ids.length * dim];
        forward(ids, out, 0);
        return out;
    }
}
