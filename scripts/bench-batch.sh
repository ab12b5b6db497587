#!/usr/bin/env bash
# Batch throughput (by hand, not in CI): `vl4j batch --max-batch B` against one `vl4j run` per request (a shell
# loop, what one would do without batch), on the same greedy requests, in one run on one machine. Prints answers/s,
# generated tok/s and peak RSS of both, the ratios, and checks that both gave the same tokens for every request.
#   scripts/bench-batch.sh [MODEL_DIR] [REQUESTS] [MAX_NEW_TOKENS] [MAX_BATCH]
# Defaults: /tmp/synth13 (made with `vl4j synth --config 1.3b` when missing, ~4 GB), 16 requests, 64 tokens, batch 8.
# BENCH_IMAGE=file.png puts that image in every request (then the vision tower and the 600-token prefill of each
# request dominate); THREADS=N passes --threads; VL4J_JAVA_OPTS adds JVM options to both sides.
# Needs GNU time (/usr/bin/time, Debian's `time`) for the peak RSS of each process.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/jdk.sh"
vl4j_find_jdk
export JAVA_HOME="$VL4J_JAVA_HOME"
model="${1:-/tmp/synth13}"
requests="${2:-16}"
tokens="${3:-64}"
batch="${4:-8}"
jar="$here/vl4j-cli/target/vl4j-cli-0.1.0-SNAPSHOT.jar"
if [ ! -f "$jar" ]; then
  (cd "$here" && mvn -q -B -DskipTests package -pl vl4j-cli -am) >&2
fi
java=("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED ${VL4J_JAVA_OPTS:-} -jar "$jar")
threads=()
if [ -n "${THREADS:-}" ]; then threads=(--threads "$THREADS"); fi
if [ ! -f "$model/config.json" ]; then
  "${java[@]}" synth --config 1.3b --out "$model"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# the requests: distinct questions, so the answers differ
image_json=""
image_args=()
if [ -n "${BENCH_IMAGE:-}" ]; then
  image_json="\"images\": [\"$(cd "$(dirname "$BENCH_IMAGE")" && pwd)/$(basename "$BENCH_IMAGE")\"], "
  image_args=(--image "$BENCH_IMAGE")
fi
for i in $(seq 1 "$requests"); do
  echo "{\"id\": \"q$i\", ${image_json}\"prompt\": \"Question $i: tell a short story about the number $i.\"}"
done > "$work/requests.jsonl"

echo "== host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== sequential: $requests x vl4j run (JVM start, model load, answer), $tokens tokens each"
start=$(date +%s.%N)
peak_run=0
for i in $(seq 1 "$requests"); do
  /usr/bin/time -f "%M" -o "$work/rss.$i" "${java[@]}" run -m "$model" "${threads[@]}" "${image_args[@]}" --json --quiet \
    --max-new-tokens "$tokens" -p "Question $i: tell a short story about the number $i." > "$work/run.$i.json"
  rss=$(tail -1 "$work/rss.$i")
  if [ "$rss" -gt "$peak_run" ]; then peak_run=$rss; fi
done
seq_s=$(echo "$(date +%s.%N) - $start" | bc -l)
seq_tokens=$(cat "$work"/run.*.json | grep -o '"completion_tokens":[0-9]*' | cut -d: -f2 | paste -sd+ | bc)

echo "== batch: vl4j batch --max-batch $batch over the same $requests requests"
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/rss.batch" "${java[@]}" batch -m "$model" "${threads[@]}" -i "$work/requests.jsonl" \
  -o "$work/results.jsonl" --max-new-tokens "$tokens" --max-batch "$batch" --json --quiet > "$work/batch.json"
batch_s=$(echo "$(date +%s.%N) - $start" | bc -l)
peak_batch=$(tail -1 "$work/rss.batch")
batch_tokens=$(grep -o '"completion_tokens":[0-9]*' "$work/results.jsonl" | cut -d: -f2 | paste -sd+ | bc)

# the same tokens for every request (greedy decoding is batch-invariant)
same=0
for i in $(seq 1 "$requests"); do
  a=$(grep -o '"completion_token_ids":\[[0-9,]*\]' "$work/run.$i.json")
  b=$(grep "\"id\":\"q$i\"" "$work/results.jsonl" | grep -o '"completion_token_ids":\[[0-9,]*\]')
  if [ "$a" = "$b" ]; then same=$((same + 1)); fi
done

awk -v n="$requests" -v ss="$seq_s" -v st="$seq_tokens" -v bs="$batch_s" -v bt="$batch_tokens" -v pr="$peak_run" \
    -v pb="$peak_batch" -v same="$same" -v b="$batch" 'BEGIN {
  printf "%-28s %10s %10s %10s %12s\n", "", "seconds", "answers/s", "tok/s", "peak RSS GB"
  printf "%-28s %10.1f %10.3f %10.2f %12.2f\n", "sequential vl4j run", ss, n / ss, st / ss, pr / 1048576
  printf "%-28s %10.1f %10.3f %10.2f %12.2f\n", "vl4j batch --max-batch " b, bs, n / bs, bt / bs, pb / 1048576
  printf "batch / sequential: %.2fx answers/s, %.2fx tok/s; peak RSS %.2fx; same tokens: %d of %d requests\n",
    (n / bs) / (n / ss), (bt / bs) / (st / ss), pb / pr, same, n
}'
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
