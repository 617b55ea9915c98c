# Sourced by compare-flink.sh and flink-golden.sh: running the Nexmark SQL files on real
# Apache Flink through the harness in shared/flink (its env.sh: Flink's jars, RunSql).
#
# Overridable from the environment:
#   FLINK_HARNESS  the harness directory (default: ../../../shared/flink from here, else
#                  /work/shared/flink)
#   STROM_BIN      the strom binary (default: target/release/strom, built if missing)
#   JAVA_OPTS      extra JVM flags for Flink (see the harness's env.sh)

NEXMARK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$NEXMARK_DIR/../.." && pwd)"
NEXMARK_SQL="$NEXMARK_DIR/sql"
if [ -z "${FLINK_HARNESS:-}" ]; then
  if [ -f "$REPO_ROOT/../shared/flink/env.sh" ]; then
    FLINK_HARNESS="$(cd "$REPO_ROOT/../shared/flink" && pwd)"
  else
    FLINK_HARNESS=/work/shared/flink
  fi
fi
# shellcheck source=/dev/null
source "$FLINK_HARNESS/env.sh"
# Our Java classes (q14's UDF, q13's lookup table), compiled against the Flink jars.
NEXMARK_CLASSES="$FLINK_HOME_CACHE/nexmark-classes"

# The queries of the suite (q6 and q10 are not part of it; q12 runs on processing time).
NEXMARK_QUERIES="q0 q1 q2 q3 q4 q5 q7 q8 q9 q11 q12 q13 q14 q15 q16 q17 q18 q19 q20 q21 q22"

log() { echo "$*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# Flink's jars and the harness (once), then our Java sources (when changed).
nexmark_setup() {
  oracle_setup
  local stamp="$NEXMARK_CLASSES/.stamp"
  if [ ! -f "$stamp" ] || [ -n "$(find "$NEXMARK_DIR/java" -type f -newer "$stamp")" ]; then
    rm -rf "$NEXMARK_CLASSES" && mkdir -p "$NEXMARK_CLASSES"
    javac -nowarn -d "$NEXMARK_CLASSES" -cp "$FLINK_LIB/*" "$NEXMARK_DIR"/java/*.java >&2
    cp -r "$NEXMARK_DIR/java/META-INF" "$NEXMARK_CLASSES/"
    touch "$stamp"
  fi
}

# The strom binary: $STROM_BIN, else target/release/strom (cargo build --release first).
nexmark_strom() {
  if [ -z "${STROM_BIN:-}" ]; then
    log "building strom (cargo build --release --bin strom)"
    (cd "$REPO_ROOT" && cargo build --release --bin strom >&2) || die "cargo build failed"
    STROM_BIN="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/strom"
  fi
  case "$STROM_BIN" in /*) ;; *) STROM_BIN="$(cd "$(dirname "$STROM_BIN")" && pwd)/$(basename "$STROM_BIN")" ;; esac
  [ -x "$STROM_BIN" ] || die "no strom binary at $STROM_BIN"
}

# Write one Flink SQL script for a query: settings.sql, checkpoint.sql (when
# CHECKPOINT_INTERVAL is set), ddl.sql, then the query's file.
# usage: nexmark_script QUERY OUT.sql
nexmark_script() {
  local q="$1" out="$2"
  [ -f "$NEXMARK_SQL/$q.sql" ] || die "no query $q ($NEXMARK_SQL/$q.sql)"
  {
    cat "$NEXMARK_SQL/settings.sql"; echo
    if [ -n "${CHECKPOINT_INTERVAL:-}" ]; then cat "$NEXMARK_SQL/checkpoint.sql"; echo; fi
    cat "$NEXMARK_SQL/ddl.sql"; echo
    cat "$NEXMARK_SQL/$q.sql"
  } > "$out"
}

# The java command that runs a script in a local MiniCluster; its 'print' sink writes to
# stdout, RunSql's log lines (JOB ... net_runtime_ms=, TOTAL_MS=) go to stderr.
# usage: nexmark_flink_cmd P SCRIPT INPUT SIDE_INPUT SINK  (fills the array FLINK_CMD)
nexmark_flink_cmd() {
  local p="$1" script="$2" input="$3" side="$4" sink="$5"
  # shellcheck disable=SC2206
  FLINK_CMD=(java $JAVA_OPTS -cp "$FLINK_CP:$NEXMARK_CLASSES" RunSql -p "$p"
    -V "INPUT=$(realpath "$input")" -V "SIDE_INPUT=$(realpath "$side")" -V "SINK=$sink")
  if [ -n "${CHECKPOINT_INTERVAL:-}" ]; then
    FLINK_CMD+=(-V "CHECKPOINT_INTERVAL=$CHECKPOINT_INTERVAL" -V "CHECKPOINT_DIR=$CHECKPOINT_DIR")
  fi
  FLINK_CMD+=("$script")
}

# Generate the events file (and q13's side input) with strom unless it is already there and
# newer than the binary. usage: nexmark_generate EVENTS OUT.jsonl SIDE.csv [extra args...]
nexmark_generate() {
  local n="$1" out="$2" side="$3"; shift 3
  if [ -s "$out" ] && [ -s "$side" ] && [ "$out" -nt "$STROM_BIN" ] && [ "$side" -nt "$STROM_BIN" ]; then
    return 0
  fi
  log "generating $n events into $out"
  "$STROM_BIN" nexmark generate --events "$n" --out "$out.tmp" --seed 1 --side-input "$side" "$@" >&2 \
    || die "$STROM_BIN nexmark generate failed"
  mv "$out.tmp" "$out"
}
