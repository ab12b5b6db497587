#!/usr/bin/env bash
# Memory check for the 7B layout (not part of CI: it writes 14.7 GB).
# Writes a random-weight checkpoint with the real deepseek-vl-7b shapes (three ~5 GB BF16 shards), then answers
# one image prompt with the Java heap capped at 1 GB: the weights stay memory-mapped, only activations, the KV
# cache and small vectors live on the heap. Prints the heap in use after loading and the stage timings.
# Usage: scripts/bench-7b-memory.sh [DIR]   (default /tmp/vl4j-synth-7b; reused when present)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-/tmp/vl4j-synth-7b}"
if [ ! -f "$dir/model.safetensors.index.json" ]; then
  "$here/vl4j" synth --config 7b --out "$dir"
fi
VL4J_JAVA_OPTS="-Xmx1g" "$here/vl4j" run --verbose --model "$dir" \
  --image "$here/testdata/tiny-dsvl/images/dog_a.png" --prompt "Describe this image." --max-new-tokens 4 >/dev/null
