#!/usr/bin/env bash
# Teaches a tiny model the colour of a shape, with the vl4j commands, and shows its answers before and after.
#   scripts/shapes-demo.sh [OUT] [STEPS]
# OUT (default target/shapes-demo) receives:
#   model/                 the tiny random-weight fixture testdata/tiny-dsvl-1.3b/model, made to look at 64-pixel
#                          images (16 image tokens; ai.vl4j.train.demo.ColouredShapes writes it and the pictures)
#   train.jsonl, train/    TRAIN (128) pictures of one solid shape in red, green, blue or yellow, each an SFT sample
#                          "What colour is the shape?" -> "Red."
#   test.jsonl, test/      48 held-out pictures (other positions, sizes, shapes, backgrounds); the colour in the name
#   before.jsonl, after.jsonl   vl4j batch's greedy answers to the question, untrained and trained
#   trained/, metrics.jsonl     vl4j train's model (stage 2: aligner + language model) and its loss per step
# Extra: TRAIN (default 128), SEED (default 7), VL4J_JAVA_OPTS for the JVMs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$here/target/shapes-demo}"
steps="${2:-160}"
question="What colour is the shape?"
vl4j="$here/vl4j"

"$vl4j" --version >/dev/null            # builds vl4j on first use
. "$here/scripts/jdk.sh"
vl4j_find_jdk
rm -rf "$out"
echo "== data: $out"
"$VL4J_JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED ${VL4J_JAVA_OPTS:-} \
  -cp "$here/vl4j-cli/target/vl4j-cli-0.1.0-SNAPSHOT.jar" ai.vl4j.train.demo.ColouredShapes \
  "$here/testdata/tiny-dsvl-1.3b/model" "$out" "${TRAIN:-128}" 48 "${SEED:-7}" 2>&1 | grep -v 'incubator modules'

# right/total of a batch result file: the id 0007-red.png wants the answer "Red."
score() {
  local right=0 total=0 line id text want
  while IFS= read -r line; do
    id="$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' <<<"$line")"
    text="$(sed -n 's/.*"text":" *\([^"]*\)".*/\1/p' <<<"$line")"
    want="${id#*-}"; want="${want%.png}"
    want="$(printf '%s' "${want:0:1}" | tr '[:lower:]' '[:upper:]')${want:1}."
    total=$((total + 1))
    if [ "$text" = "$want" ]; then right=$((right + 1)); fi
  done < "$1"
  echo "$right/$total"
}
answer() {  # $1 = result file, $2 = id
  grep -F "\"id\":\"$2\"" "$1" | sed -n 's/.*"text":" *\(.*\)","completion_token_ids".*/\1/p'
}

echo "== untrained: vl4j batch, vl4j loss"
held_out_before="$("$vl4j" loss -q --model "$out/model" --data "$out/test.jsonl" --json)"
"$vl4j" batch -q --model "$out/model" --input "$out/test" --prompt "$question" --max-new-tokens 6 --out "$out/before.jsonl"

echo "== vl4j train: stage 2, $steps steps of 2 samples, peak lr 2e-3"
start=$(date +%s.%N)
"$vl4j" train --model "$out/model" --data "$out/train.jsonl" --stage 2 --steps "$steps" --lr 2e-3 \
  --warmup-steps $((steps / 10)) --weight-decay 0 --batch-size 2 --seed "${SEED:-7}" --save-dtype f32 \
  --out "$out/trained" --metrics "$out/metrics.jsonl"
end=$(date +%s.%N)

echo "== trained: vl4j batch, vl4j loss"
held_out_after="$("$vl4j" loss -q --model "$out/trained" --data "$out/test.jsonl" --json)"
"$vl4j" batch -q --model "$out/trained" --input "$out/test" --prompt "$question" --max-new-tokens 6 --out "$out/after.jsonl"

echo
printf '%-22s %-40s %s\n' "held-out picture" "untrained answer" "trained answer"
for f in $(cd "$out/test" && ls | head -8); do
  printf '%-22s %-40s %s\n' "$f" "$(answer "$out/before.jsonl" "$f" | cut -c1-38)" "$(answer "$out/after.jsonl" "$f")"
done
loss() { sed -n "$1"'s/.*"loss": *\([0-9.eE+-]*\).*/\1/p' "$out/metrics.jsonl" | cut -c1-6; }
per_step=$(awk -F'"seconds": *' '{split($2, a, /[,}]/); s += a[1]; n++} END {printf "%.3f", s / n}' "$out/metrics.jsonl")
echo
echo "loss: step 1 $(loss 1), step $steps $(loss '$')"
held() { sed -n 's/.*"loss": *\([0-9.eE+-]*\).*/\1/p' <<<"$1" | cut -c1-6; }
echo "held-out loss (vl4j loss on test.jsonl): untrained $(held "$held_out_before"), trained $(held "$held_out_after")"
echo "right answers on the held-out pictures: untrained $(score "$out/before.jsonl"), trained $(score "$out/after.jsonl")"
echo "training: $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.0f", b - a}') s in all (JVM start and load included), $per_step s a step;" \
  "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "try one: $vl4j run --model $out/trained --image $out/test/0000-red.png \"$question\""
