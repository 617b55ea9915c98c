#!/usr/bin/env bash
# Make the golden result tables of the Nexmark queries with real Apache Flink (2.3): a small
# deterministic event file, every query but q12 (processing time) through Flink's 'print'
# sink, the printed changelog applied, and the final tables written as
# crates/strom-nexmark/tests/data/flink/qN.jsonl with a README.md saying how they were made.
# See benchmarks/nexmark/README.md.
#
# usage: flink-golden.sh [--events N] [--event-rate R] [--queries q0,q1,...|all] [--out DIR]
#                        [--work DIR]
#   defaults: --events 2000 --event-rate 25 (80 s of event time), all queries but q12,
#   --out crates/strom-nexmark/tests/data/flink, --work target/nexmark-golden
# Environment: STROM_BIN (default: cargo build --release, then target/release/strom),
# FLINK_HARNESS, JAVA_OPTS.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

events=2000
rate=25
queries=all
out="$REPO_ROOT/crates/strom-nexmark/tests/data/flink"
work="$REPO_ROOT/target/nexmark-golden"
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events="$2"; shift 2 ;;
    --event-rate) rate="$2"; shift 2 ;;
    --queries) queries="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ "$queries" = all ] && queries="${NEXMARK_QUERIES/q12 /}"
queries="${queries//,/ }"

nexmark_setup
nexmark_strom
"$STROM_BIN" nexmark generate --help 2>/dev/null | grep -q -- '--event-rate' \
  || die "$STROM_BIN has no 'nexmark generate --event-rate' (build a newer strom or set STROM_BIN)"
mkdir -p "$work" "$out"
work="$(cd "$work" && pwd)"
input="$work/events-$events-rate$rate.jsonl"
side="$work/side_input.csv"
nexmark_generate "$events" "$input" "$side" --event-rate "$rate"
unset CHECKPOINT_INTERVAL

made=()
for q in $queries; do
  [ "$q" = q12 ] && { log "q12: skipped (processing time)"; continue; }
  log "$q: Flink"
  nexmark_script "$q" "$work/$q.sql"
  nexmark_flink_cmd 1 "$work/$q.sql" "$input" "$side" print
  if ! "${FLINK_CMD[@]}" > "$work/$q.out" 2> "$work/$q.err"; then
    grep -m 3 -E 'Exception|Error' "$work/$q.err" >&2 || tail -n 5 "$work/$q.err" >&2
    die "Flink failed on $q (see $work/$q.err)"
  fi
  python3 "$NEXMARK_DIR/flink_canon.py" canon --sql "$NEXMARK_SQL/$q.sql" -o "$out/$q.jsonl" \
    "$work/$q.out" || die "could not canonicalise $q's output"
  made+=("$q")
done

{
  cat <<EOF
# Golden Nexmark results from Apache Flink

Made by \`benchmarks/nexmark/flink-golden.sh\`; do not edit by hand. Each \`qN.jsonl\` is the final
result table of the reference Nexmark query qN (\`benchmarks/nexmark/sql/qN.sql\`, with
\`settings.sql\` and \`ddl.sql\`) run by Apache Flink ${FLINK_VERSION} (a local MiniCluster,
streaming mode, parallelism 1, no checkpoints, 'print' sink) over the events below. Flink's
printed changelog (+I/-U/+U/-D) was applied and the rows that remain are written one JSON
array of column values per line, in the sink table's column order, sorted by their compact
JSON text (\`benchmarks/nexmark/flink_canon.py canon\`): integers as numbers, DECIMAL as
floats, timestamps as epoch milliseconds (UTC), text as strings, NULL as null; the
conventions of \`strom bench nexmark --output\`. q12 (processing-time windows) has none.

## Input

\`\`\`
strom nexmark generate --events ${events} --event-rate ${rate} --seed 1 --out events.jsonl --side-input side_input.csv
\`\`\`

${events} events at ${rate} events per second of event time: $((events / rate)) s from 2015-07-15 00:00:00 UTC,
in order (the watermark trails the latest event by 4 s, so no event is late). q13's side input
is the reference's: \`i,i\` for i in 0..9999. The event file's SHA-256 was
\`$(sha256sum "$input" | cut -d' ' -f1)\`.

## Command

\`\`\`
benchmarks/nexmark/flink-golden.sh --events ${events} --event-rate ${rate}
\`\`\`

## Rows

| query | rows | Flink changes (+I/-U/+U/-D) |
|---|---|---|
EOF
  for q in "${made[@]}"; do
    changes=$(grep -oE '^([0-9]+> )?[+-][IUD]' "$work/$q.out" | sed 's/.*\([+-][IUD]\)/\1/' | sort | uniq -c \
      | awk '{printf "%s%s=%s", sep, $2, $1; sep=" "}')
    echo "| $q | $(wc -l < "$out/$q.jsonl") | ${changes:-none} |"
  done
} > "$out/README.md"
log "wrote ${#made[@]} tables and README.md to $out ($(du -sh "$out" | cut -f1))"
