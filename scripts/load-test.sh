#!/usr/bin/env bash
# Load test of `vl4j serve` (by hand, not in CI): a synthetic 1.3B model (real shapes, random weights), first one
# streaming client for a baseline, then N concurrent streaming clients; prints requests, failures, latency, tokens/s
# and the server's heap after the run.
#   scripts/load-test.sh [MODEL_DIR] [CLIENTS] [SECONDS] [MAX_TOKENS] [BASELINE_SECONDS]
# Defaults: /tmp/synth13 (made with `vl4j synth --config 1.3b` when missing, ~4 GB), 16 clients, 300 s, 32 tokens, 60 s.
# Extra: LOAD_IMAGE=file.png puts that image in every request; MAX_BATCH=8 caps the batch (default: CLIENTS);
# VL4J_JAVA_OPTS sets the server's heap (default -Xmx10g); PORT (default 18080).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/jdk.sh"
vl4j_find_jdk
export JAVA_HOME="$VL4J_JAVA_HOME"
model="${1:-/tmp/synth13}"
clients="${2:-16}"
seconds="${3:-300}"
max_tokens="${4:-32}"
baseline="${5:-60}"
port="${PORT:-18080}"
image_args=()
if [ -n "${LOAD_IMAGE:-}" ]; then image_args=(--image "$LOAD_IMAGE"); fi

if [ ! -f "$model/config.json" ]; then
  "$here/vl4j" synth --config 1.3b --out "$model"
fi
VL4J_JAVA_OPTS="${VL4J_JAVA_OPTS:--Xmx10g}" "$here/vl4j" serve --model "$model" --port "$port" \
  --max-batch "${MAX_BATCH:-$clients}" --max-queue "$((clients * 2))" 2> /tmp/vl4j-load-server.log &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
  sleep 1
done
url="http://127.0.0.1:$port/"
echo "== baseline: 1 client, ${baseline}s"
"$JAVA_HOME/bin/java" "$here/scripts/LoadTest.java" --url "$url" --clients 1 --seconds "$baseline" --max-tokens "$max_tokens" "${image_args[@]}"
echo "== load: $clients clients, ${seconds}s"
"$JAVA_HOME/bin/java" "$here/scripts/LoadTest.java" --url "$url" --clients "$clients" --seconds "$seconds" --max-tokens "$max_tokens" "${image_args[@]}"
"$JAVA_HOME/bin/jcmd" "$server" GC.run >/dev/null || true   # the launcher execs java: $server is the JVM
echo "== server after the run (after a full GC)"
curl -s "${url}metrics" | grep -E '^vl4j_(requests_total|completion_tokens_total|decode_steps_total|decode_step_rows_total|requests_cancelled_total|jvm_heap)' || true
echo "request log: /tmp/vl4j-load-server.log"
