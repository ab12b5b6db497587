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
  echo "vl4j: error: vl4j needs a JDK 25 or newer (with the jdk.incubator.vector module) and found none in JAVA_HOME," \
       "on the PATH or in /usr/lib/jvm; install one (e.g. Temurin 25 from https://adoptium.net) and set JAVA_HOME to it" >&2
  return 1
}

# Runs java with the Vector API module (the rest of the arguments as given) in place of this shell. The JVM prints
# "WARNING: Using incubator modules: jdk.incubator.vector" on stderr at every start, and no JVM option turns it off;
# stderr goes through vl4j_drop_incubator_notice, which removes exactly that line and passes everything else on
# unchanged and unbuffered (errors, progress bars). The process keeps its pid, so signals reach the JVM itself.
vl4j_exec_java() {
  exec "$VL4J_JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED "$@" \
    2> >(vl4j_drop_incubator_notice >&2)
}

# stdin → stdout without the JVM's incubator notice, which comes among its start-up lines, before any output of the
# program; from the first other line on it is a plain byte copy. Ignores Ctrl-C, so the JVM's last words still pass.
vl4j_drop_incubator_notice() {
  trap '' INT
  local line
  while IFS= read -r line; do
    case "$line" in
      "WARNING: Using incubator modules: jdk.incubator.vector") exec cat ;;
      "Picked up "*|"NOTE: Picked up "*) printf '%s\n' "$line" ;;
      *) printf '%s\n' "$line"; exec cat ;;
    esac
  done
  printf '%s' "$line"
}
