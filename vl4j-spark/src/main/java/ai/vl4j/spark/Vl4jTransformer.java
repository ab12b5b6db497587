package ai.vl4j.spark;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * DeepSeek-VL as a Spark ML {@link Transformer}: each row's image (a binary column of encoded image bytes, as
 * Spark's {@code binaryFile} source reads them, or the struct of Spark's {@code image} source) and prompt (a column,
 * or one prompt for all rows) to an answer column, and an error column that says why a row has no answer (a broken
 * image, a prompt too long): a bad row never fails the job.
 *
 * <p>Each executor JVM loads the model once, memory-mapped ({@code model}: a folder on the executors, or a Hugging
 * Face id that each executor resolves in its Hugging Face cache, downloading it there when absent), and all its tasks
 * share it: rows of a partition, and of the partitions running at the same time, are decoded together in one
 * continuous batch of up to {@code maxBatch} sequences. Answers come out in the partition's row order.
 *
 * <p>From Scala: {@code new ai.vl4j.spark.Vl4jTransformer().setModel(...)}; from PySpark, by class name through
 * {@code pyspark.ml.wrapper.JavaTransformer} (see the README). It saves and loads with the ML persistence API.
 */
public final class Vl4jTransformer extends Transformer implements DefaultParamsWritable {
    private static final long serialVersionUID = 1L;
    static final String DEFAULT_PROMPT = "Describe this image.";

    private final String uid;
    private final Param<String> model;
    private final Param<String> imageCol;
    private final Param<String> promptCol;
    private final Param<String> prompt;
    private final Param<String> systemPrompt;
    private final Param<String> outputCol;
    private final Param<String> errorCol;
    private final IntParam maxNewTokens;
    private final IntParam maxBatch;
    private final DoubleParam temperature;
    private final Param<String> quant;
    private final Param<String> kvCache;

    public Vl4jTransformer() {
        this(Identifiable.randomUID("vl4j"));
    }

    public Vl4jTransformer(String uid) {
        this.uid = uid;
        model = new Param<>(this, "model", "model folder on the executors, or Hugging Face id ORG/NAME[@REVISION]");
        imageCol = new Param<>(this, "imageCol", "image column: binary (encoded image bytes) or Spark's image struct");
        promptCol = new Param<>(this, "promptCol", "optional string column with each row's prompt (a null row takes 'prompt')");
        prompt = new Param<>(this, "prompt", "the prompt of rows without one of their own");
        systemPrompt = new Param<>(this, "systemPrompt", "system prompt (empty: the DeepSeek-VL default)");
        outputCol = new Param<>(this, "outputCol", "answer column (null where the row failed)");
        errorCol = new Param<>(this, "errorCol", "error column (null where the row was answered)");
        maxNewTokens = new IntParam(this, "maxNewTokens", "most tokens per answer", ParamValidators.gtEq(1));
        maxBatch = new IntParam(this, "maxBatch", "sequences decoded together in each executor", ParamValidators.gtEq(1));
        temperature = new DoubleParam(this, "temperature", "0 = greedy (as vl4j run)", ParamValidators.inRange(0, 2));
        quant = new Param<>(this, "quant", "quantize the language model at load: q8_0, q4_0, or empty for the weights as stored");
        kvCache = new Param<>(this, "kvCache", "KV cache precision: f32 or bf16");
        setDefault(model, "deepseek-ai/deepseek-vl-1.3b-chat");
        setDefault(imageCol, "content");
        setDefault(promptCol, "");
        setDefault(prompt, DEFAULT_PROMPT);
        setDefault(systemPrompt, "");
        setDefault(outputCol, "answer");
        setDefault(errorCol, "error");
        setDefault(maxNewTokens, 512);
        setDefault(maxBatch, 8);
        setDefault(temperature, 0.0);
        setDefault(quant, "");
        setDefault(kvCache, "f32");
    }

    @Override
    public String uid() {
        return uid;
    }

    // ---- parameters: Spark finds them by these public no-argument methods ----

    public Param<String> model() {
        return model;
    }

    public Param<String> imageCol() {
        return imageCol;
    }

    public Param<String> promptCol() {
        return promptCol;
    }

    public Param<String> prompt() {
        return prompt;
    }

    public Param<String> systemPrompt() {
        return systemPrompt;
    }

    public Param<String> outputCol() {
        return outputCol;
    }

    public Param<String> errorCol() {
        return errorCol;
    }

    public IntParam maxNewTokens() {
        return maxNewTokens;
    }

    public IntParam maxBatch() {
        return maxBatch;
    }

    public DoubleParam temperature() {
        return temperature;
    }

    public Param<String> quant() {
        return quant;
    }

    public Param<String> kvCache() {
        return kvCache;
    }

    public Vl4jTransformer setModel(String value) {
        set(model, value);
        return this;
    }

    public Vl4jTransformer setImageCol(String value) {
        set(imageCol, value);
        return this;
    }

    public Vl4jTransformer setPromptCol(String value) {
        set(promptCol, value);
        return this;
    }

    public Vl4jTransformer setPrompt(String value) {
        set(prompt, value);
        return this;
    }

    public Vl4jTransformer setSystemPrompt(String value) {
        set(systemPrompt, value);
        return this;
    }

    public Vl4jTransformer setOutputCol(String value) {
        set(outputCol, value);
        return this;
    }

    public Vl4jTransformer setErrorCol(String value) {
        set(errorCol, value);
        return this;
    }

    public Vl4jTransformer setMaxNewTokens(int value) {
        set(maxNewTokens, value);
        return this;
    }

    public Vl4jTransformer setMaxBatch(int value) {
        set(maxBatch, value);
        return this;
    }

    public Vl4jTransformer setTemperature(double value) {
        set(temperature, value);
        return this;
    }

    public Vl4jTransformer setQuant(String value) {
        set(quant, value);
        return this;
    }

    public Vl4jTransformer setKvCache(String value) {
        set(kvCache, value);
        return this;
    }

    public String getModel() {
        return getOrDefault(model);
    }

    // ---- the transformation ----

    /** The input's columns, then the answer and error columns (strings, nullable). */
    @Override
    public StructType transformSchema(StructType schema) {
        String image = getOrDefault(imageCol);
        if (!List.of(schema.fieldNames()).contains(image)) {
            throw new IllegalArgumentException("vl4j: no image column '" + image + "' (columns: " + String.join(", ", schema.fieldNames())
                    + "); set imageCol");
        }
        StructField imageField = schema.apply(image);
        if (!(imageField.dataType() instanceof BinaryType) && !SparkImages.isImageStruct(imageField.dataType())) {
            throw new IllegalArgumentException("vl4j: image column '" + image + "' is " + imageField.dataType().simpleString()
                    + "; it must be binary (encoded image bytes, as the binaryFile source gives) or Spark's image struct");
        }
        String promptColumn = getOrDefault(promptCol);
        if (!promptColumn.isEmpty()) {
            if (!List.of(schema.fieldNames()).contains(promptColumn)) {
                throw new IllegalArgumentException("vl4j: no prompt column '" + promptColumn + "'");
            }
            if (!(schema.apply(promptColumn).dataType() instanceof StringType)) {
                throw new IllegalArgumentException("vl4j: prompt column '" + promptColumn + "' must be a string column");
            }
        }
        List<StructField> fields = new ArrayList<>(List.of(schema.fields()));
        for (String out : List.of(getOrDefault(outputCol), getOrDefault(errorCol))) {
            if (List.of(schema.fieldNames()).contains(out)) {
                throw new IllegalArgumentException("vl4j: the input already has a column '" + out + "'; choose another outputCol / errorCol");
            }
            fields.add(DataTypes.createStructField(out, DataTypes.StringType, true));
        }
        return DataTypes.createStructType(fields);
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType out = transformSchema(dataset.schema());
        StructType in = dataset.schema();
        // checked here, on the driver, rather than failing every task
        if (!getOrDefault(quant).isBlank()) {
            ai.vl4j.tensor.QuantType.parse(getOrDefault(quant));
        }
        if (!List.of("f32", "bf16").contains(getOrDefault(kvCache))) {
            throw new IllegalArgumentException("vl4j: kvCache must be f32 or bf16, got " + getOrDefault(kvCache));
        }
        String promptColumn = getOrDefault(promptCol);
        PartitionAnswers.Settings settings = new PartitionAnswers.Settings(getOrDefault(model), blankToNull(getOrDefault(quant)),
                getOrDefault(kvCache), (Integer) getOrDefault(maxBatch), (Integer) getOrDefault(maxNewTokens),
                (Double) getOrDefault(temperature), getOrDefault(prompt), blankToNull(getOrDefault(systemPrompt)),
                in.fieldIndex(getOrDefault(imageCol)), promptColumn.isEmpty() ? -1 : in.fieldIndex(promptColumn),
                List.of(in.fieldNames()).contains("path") ? in.fieldIndex("path") : -1);
        return dataset.toDF().mapPartitions(new PartitionAnswers(settings), Encoders.row(out));
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    @Override
    public Vl4jTransformer copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /** Spark ML persistence: {@code Vl4jTransformer.load(path)}, and pipelines that hold one. */
    public static MLReader<Vl4jTransformer> read() {
        return new DefaultParamsReader<>();
    }

    public static Vl4jTransformer load(String path) {
        return read().load(path);
    }
}
