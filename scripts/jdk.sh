# Sourced by ./vl4j and ./run-tests: sets VL4J_JAVA_HOME to a JDK >= 25.
# Looks at $JAVA_HOME, then `java` on the PATH, then the usual install folders.

vl4j_java_major() {  # $1 = java binary; prints the feature version or nothing
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
}

vl4j_find_jdk() {
  local candidates=() c
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    c="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
    candidates+=("$c")
  fi
  for c in /usr/lib/jvm/temurin-2[5-9]* /usr/lib/jvm/*-2[5-9]* /usr/lib/jvm/jdk-2[5-9]* /usr/lib/jvm/* \
           /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/* \
           /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -d "$c" ] && candidates+=("$c")
  done
  for c in "${candidates[@]}"; do
    if [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ]; then
      local major
      major="$(vl4j_java_major "$c/bin/java")"
      if [ -n "$major" ] && [ "$major" -ge 25 ]; then
        VL4J_JAVA_HOME="$c"
        return 0
      fi
    fi
  done
  echo "vl4j: needs a JDK 25 or newer (with the jdk.incubator.vector module); none found in JAVA_HOME, on the PATH or in /usr/lib/jvm." >&2
  echo "      Install one (e.g. Temurin 25 from https://adoptium.net) and set JAVA_HOME to it." >&2
  return 1
}
