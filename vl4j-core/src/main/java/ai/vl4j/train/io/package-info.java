/**
 * The files of training: model folders in the official Hugging Face layout, PEFT LoRA adapters, exact-resume
 * checkpoints and the metrics log.
 *
 * <pre>
 *   OUT/                         ModelWriter: the trained model (trained tensors in --save-dtype, frozen ones
 *                                byte for byte), or Adapter.write: the PEFT adapter folder
 *   OUT/checkpoint-K/            TrainingState.save: the model (trained tensors F32) or adapter
 *                                + optimizer.safetensors (AdamW moments) + trainer_state.json
 *   metrics.jsonl                MetricsLog: one JSON record per step; resume cuts what the checkpoint does not cover
 * </pre>
 *
 * Every folder is built beside its final name and moved there only when complete ({@link ai.vl4j.train.io.StagedFolder});
 * JSON files are written as Python's {@code json.dumps} writes them ({@link ai.vl4j.train.io.PythonJson}), so the
 * Python tools read what they would have written.
 */
package ai.vl4j.train.io;
