#!/usr/bin/env bash
# Runs the JMH kernel benchmarks (vl4j-bench); arguments go to JMH, e.g.
#   scripts/jmh.sh MatMulBenchmark -p shape=608x2048x5632 -p weights=bf16
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/jdk.sh"
vl4j_find_jdk
export JAVA_HOME="$VL4J_JAVA_HOME"
(cd "$here" && mvn -q -B -DskipTests package -pl vl4j-core,vl4j-bench -am) >&2
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp "$here/vl4j-bench/target/classes:$here/vl4j-bench/target/lib/*" org.openjdk.jmh.Main "$@"
