#!/usr/bin/env bash
# Soak test of `vl4j serve` (by hand, not in CI): starts a server, runs scripts/Soak.java against it (N streaming
# clients for M minutes: images, clients hanging up mid-stream, bad requests), prints its report with the server's
# RSS over time, then stops the server with SIGTERM and shows that it drained and exited 0.
#   scripts/soak.sh [MODEL_DIR] [CLIENTS] [MINUTES] [MAX_TOKENS]
# Defaults: the tiny fixture model testdata/tiny-dsvl-1.3b/model, 8 clients, 10 minutes, 32 tokens.
# Extra: PORT (default 18090); VL4J_JAVA_OPTS for the server's JVM (default -Xmx1g); MAX_BATCH (default CLIENTS);
# SERVE_OPTS, more flags for `vl4j serve` (e.g. "--prefix-cache-mb 0").
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/jdk.sh"
vl4j_find_jdk
export JAVA_HOME="$VL4J_JAVA_HOME"
model="${1:-$here/testdata/tiny-dsvl-1.3b/model}"
clients="${2:-8}"
minutes="${3:-10}"
max_tokens="${4:-32}"
port="${PORT:-18090}"
log="$(mktemp /tmp/vl4j-soak-server.XXXXXX.log)"
images="$here/testdata/tiny-dsvl-1.3b/images/dog_a.png,$here/testdata/tiny-dsvl-1.3b/images/synth_640x427_q90.jpg"
for f in "$here"/testdata/formats/*.{png,jpg,gif,bmp,webp}; do images="$images,$f"; done

VL4J_JAVA_OPTS="${VL4J_JAVA_OPTS:--Xmx1g}" "$here/vl4j" serve -q --model "$model" --port "$port" --max-image-mb 1 \
  --max-batch "${MAX_BATCH:-$clients}" --max-queue "$((clients * 2))" ${SERVE_OPTS:-} 2> "$log" &
server=$!                                             # the launcher execs java: this is the JVM's pid
trap 'kill -9 $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
  sleep 1
done
echo "== soak: $clients clients, $minutes min, server pid $server, log $log ($(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
"$JAVA_HOME/bin/java" "$here/scripts/Soak.java" --url "http://127.0.0.1:$port/" --clients "$clients" --minutes "$minutes" \
  --max-tokens "$max_tokens" --pid "$server" --images "$images" --max-image-mb 1 \
  --truncate "$here/testdata/tiny-dsvl-1.3b/images/synth_640x427_q90.jpg"
echo "== SIGTERM"
kill -TERM "$server"
status=0
wait "$server" || status=$?
echo "server exit status: $status; its last words:"
grep -v '^\(GET\|POST\) ' "$log" | tail -3
