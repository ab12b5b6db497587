/**
 * Training data for DeepSeek-VL: the JSONL format, its exact tokenization and label masking, and the seeded
 * order a trainer draws batches in.
 *
 * <pre>
 *   F.jsonl ─► TrainingData.open: per line JsonlParser (format rules) ─► SampleEncoder (ids, labels, length)
 *              │                   ─► ImageCheck (headers); index of (file, offset, line) kept, nothing else
 *              ▼
 *   DataLoader (seeded epochs; DataMixer with a text-only TrainingData) ─► Batch of TrainingSample + DataCursor
 *              │                                                           (images read by TrainingSample.pixels)
 *              ▼
 *   trainer: loss over labels != -100, divided once by Batch.nSupervised()
 * </pre>
 *
 * One line is one sample: {@code {"images": [...], "text": "..."}} (caption, interleaved or text-only) or
 * {@code {"images": [...], "conversations": [{"role": "User", "content": ...}, {"role": "Assistant", ...}]}}
 * (SFT). Image paths are relative to the JSONL file's folder; {@code <image_placeholder>} tags pair with the
 * images in order. Text: {@code [BOS] + encode(text) + [EOS]}, every token but BOS and image positions
 * supervised. SFT: the deepseek template cut into prompt segments (masked) and answer segments (supervised,
 * each with its closing EOS), each tokenized on its own. See the train fixture README §2-§3.
 */
package ai.vl4j.train.data;
