package ai.vl4j.spark;

import ai.vl4j.Vl4jException;
import ai.vl4j.generate.SamplingOptions;
import ai.vl4j.server.Completion;
import ai.vl4j.server.LocalEngine;
import ai.vl4j.tensor.DType;
import ai.vl4j.tensor.QuantType;
import ai.vl4j.text.ChatTemplate;
import ai.vl4j.text.Message;
import java.io.Serializable;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/**
 * One partition's rows through the executor's shared engine: up to two batches of rows are in flight at once (so the
 * engine's batch stays full while the oldest row waits for its answer), and rows come out in their input order with
 * the answer and error appended. A row that cannot be answered gets a null answer and its error.
 */
final class PartitionAnswers implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    /** The transformer's parameters, as the executors need them (column indexes into the input rows; -1: none). */
    record Settings(String model, String quant, String kvCache, int maxBatch, int maxNewTokens, double temperature,
                    String prompt, String systemPrompt, int imageIndex, int promptIndex, int pathIndex) implements Serializable {
    }

    private final Settings settings;

    PartitionAnswers(Settings settings) {
        this.settings = settings;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        LocalEngine engine = LocalEngine.shared(new LocalEngine.Key(settings.model(),
                settings.quant() == null ? null : QuantType.parse(settings.quant()),
                DType.valueOf(settings.kvCache().toUpperCase(java.util.Locale.ROOT)), settings.maxBatch()));
        return new Answers(engine, rows);
    }

    /** A row on its way: its completion, or the error that kept it from having one. */
    private record Pending(Row row, Completion job, String error) {
    }

    private final class Answers implements Iterator<Row> {
        private final LocalEngine engine;
        private final Iterator<Row> rows;
        private final Deque<Pending> pending = new ArrayDeque<>();
        private long index;

        Answers(LocalEngine engine, Iterator<Row> rows) {
            this.engine = engine;
            this.rows = rows;
        }

        @Override
        public boolean hasNext() {
            fill();
            return !pending.isEmpty();
        }

        @Override
        public Row next() {
            fill();
            Pending p = pending.poll();
            if (p == null) {
                throw new NoSuchElementException();
            }
            String answer = null;
            String error = p.error();
            if (p.job() != null) {
                try {
                    Completion.Event end = LocalEngine.result(p.job());
                    if (end instanceof Completion.Done done) {
                        answer = done.text();
                    } else {
                        error = ((Completion.Failed) end).message();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    pending.forEach(q -> {
                        if (q.job() != null) {
                            q.job().cancel();
                        }
                    });
                    throw new IllegalStateException("vl4j: interrupted (the task was cancelled)", e);
                }
            }
            Object[] values = new Object[p.row().length() + 2];
            for (int i = 0; i < p.row().length(); i++) {
                values[i] = p.row().get(i);
            }
            values[values.length - 2] = answer;
            values[values.length - 1] = error;
            return RowFactory.create(values);
        }

        /** Starts rows until two batches are in flight. */
        private void fill() {
            while (pending.size() < 2 * settings.maxBatch() && rows.hasNext()) {
                Row row = rows.next();
                pending.add(start(row, index++));
            }
        }

        private Pending start(Row row, long n) {
            String name = settings.pathIndex() >= 0 && !row.isNullAt(settings.pathIndex())
                    ? row.get(settings.pathIndex()).toString() : "row " + n + " of the partition";
            try {
                String text = settings.promptIndex() >= 0 && !row.isNullAt(settings.promptIndex())
                        ? row.getString(settings.promptIndex()) : settings.prompt();
                Message message = Message.user(text, SparkImages.decode(row.get(settings.imageIndex()), name));
                SamplingOptions options = new SamplingOptions(settings.maxNewTokens(), (float) settings.temperature(), 50, 1f, 1f, null);
                Completion job = engine.completion(name, List.of(message),
                        settings.systemPrompt() == null ? ChatTemplate.DEFAULT_SYSTEM_PROMPT : settings.systemPrompt(), options, List.of());
                engine.submit(job);
                return new Pending(row, job, null);
            } catch (Vl4jException | IllegalArgumentException e) {
                return new Pending(row, null, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("vl4j: interrupted (the task was cancelled)", e);
            }
        }
    }
}
