#!/usr/bin/env bash
# Strom's Nexmark benchmark beside real Apache Flink (2.3, a local MiniCluster), on the very
# same events. See benchmarks/nexmark/README.md.
#
# usage: compare-flink.sh [--events N] [--queries q0,q5,...|all] [-p N]
#                         [--checkpoint-interval 10s|off] [--check] [--check-events N]
#                         [--check-event-rate R] [--work DIR]
#   --events N               events in the timed file (default 2000000)
#   --queries LIST           comma-separated queries, or all (default)
#   -p N                     parallelism of both engines (default 1)
#   --checkpoint-interval I  exactly-once checkpoints every I in both engines (default 10s;
#                            'off' disables them)
#   --check                  instead of timing, compare both engines' result tables on a
#                            small file (q12, on processing time, is skipped)
#   --check-events N         events in the --check file (default 20000)
#   --check-event-rate R     its events per second of event time (default 1000: 20 s of
#                            event time, so that windows, sessions and joins have something
#                            to do)
#   --work DIR               where the event files, outputs and results.tsv go
#                            (default target/nexmark-flink)
# Environment: STROM_BIN (default: cargo build --release, then target/release/strom),
# FLINK_HARNESS (default ../shared/flink beside the repository), JAVA_OPTS.
#
# Timing prints one line per query on stdout:  qN strom=<events/s> flink=<events/s> ratio=<x>
# (ratio = strom / flink), writes every figure to WORK/results.tsv and a table to stderr.
# Flink's events/s leave out its JVM and planner start: each query runs on the full file
# (N events) and on a file of N/10 events, and the rate is (N - N/10) / (t_full - t_tenth)
# (wall seconds; per core: the same with the JVM's CPU seconds from wait4).
# --check prints  qN check=ok rows=R  or a summary of the differences.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

events=2000000
queries=all
par=1
ckpt=10s
check=0
check_events=20000
check_rate=1000
work="${NEXMARK_WORK:-$REPO_ROOT/target/nexmark-flink}"
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events="$2"; shift 2 ;;
    --queries) queries="$2"; shift 2 ;;
    -p|--parallelism) par="$2"; shift 2 ;;
    --checkpoint-interval) ckpt="$2"; shift 2 ;;
    --check) check=1; shift ;;
    --check-events) check_events="$2"; shift 2 ;;
    --check-event-rate) check_rate="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ "$queries" = all ] && queries="$NEXMARK_QUERIES"
queries="${queries//,/ }"
[ "$events" -ge 10 ] || die "--events must be at least 10"

nexmark_setup
nexmark_strom
mkdir -p "$work"
work="$(cd "$work" && pwd)"
side="$work/side_input.csv"

strom_ckpt=()
if [ "$ckpt" != off ]; then
  export CHECKPOINT_INTERVAL="$ckpt"
  strom_ckpt=(--checkpoint-interval "$ckpt")
else
  unset CHECKPOINT_INTERVAL
fi

# Run Flink on one query under measure.py. usage: run_flink QUERY INPUT SINK OUTPREFIX
# Leaves OUTPREFIX.out (stdout: the print sink), .err, .measure.
run_flink() {
  local q="$1" input="$2" sink="$3" pre="$4"
  local script="$pre.sql"
  nexmark_script "$q" "$script"
  export CHECKPOINT_DIR="$work/checkpoints/flink-$q-$$"
  nexmark_flink_cmd "$par" "$script" "$input" "$side" "$sink"
  if ! "$NEXMARK_DIR/measure.py" --stdout "$pre.out" --stderr "$pre.err" -- "${FLINK_CMD[@]}" > "$pre.measure"; then
    log "Flink failed on $q (see $pre.err):"
    grep -m 3 -E 'Exception|Error' "$pre.err" >&2 || tail -n 5 "$pre.err" >&2
    rm -rf "$CHECKPOINT_DIR"
    return 1
  fi
  rm -rf "$CHECKPOINT_DIR"
}

# field NAME FILE: the value of NAME=value in a one-line file
field() { grep -o "\b$1=[^ ]*" "$2" | head -n 1 | cut -d= -f2; }

if [ "$check" = 1 ]; then
  input="$work/check-$check_events-rate$check_rate.jsonl"
  nexmark_generate "$check_events" "$input" "$side" --event-rate "$check_rate"
  dir="$work/check"
  rm -rf "$dir" && mkdir -p "$dir/flink" "$dir/strom"
  failed=0
  for q in $queries; do
    if [ "$q" = q12 ]; then log "$q: skipped (processing time)"; continue; fi
    log "$q: Flink"
    if ! run_flink "$q" "$input" print "$dir/flink/$q"; then
      echo "$q check=FAILED (Flink did not run)"; failed=1; continue
    fi
    if ! python3 "$NEXMARK_DIR/flink_canon.py" canon --sql "$NEXMARK_SQL/$q.sql" \
        -o "$dir/flink/$q.jsonl" "$dir/flink/$q.out" 2> "$dir/flink/$q.canon.err"; then
      cat "$dir/flink/$q.canon.err" >&2
      echo "$q check=FAILED (Flink's output did not parse)"; failed=1; continue
    fi
    log "$q: Strom"
    if ! "$STROM_BIN" bench nexmark --query "$q" --input "$input" --side-input "$side" \
        --parallelism "$par" "${strom_ckpt[@]}" --output "$dir/strom" \
        > "$dir/strom/$q.out" 2> "$dir/strom/$q.err"; then
      tail -n 5 "$dir/strom/$q.err" >&2
      echo "$q check=FAILED (Strom did not run)"; failed=1; continue
    fi
    python3 "$NEXMARK_DIR/flink_canon.py" compare --name "$q" \
      "$dir/flink/$q.jsonl" "$dir/strom/$q.jsonl" || failed=1
  done
  exit "$failed"
fi

# ---- timing ----
tenth=$((events / 10))
full_in="$work/events-$events.jsonl"
tenth_in="$work/events-$tenth.jsonl"
nexmark_generate "$events" "$full_in" "$side"
nexmark_generate "$tenth" "$tenth_in" "$side"
runs="$work/runs"
mkdir -p "$runs"
tsv="$work/results.tsv"
printf 'query\tstrom_events_per_s\tflink_events_per_s\tratio\tstrom_events_per_core_s\tflink_events_per_core_s\tratio_per_core\tstrom_peak_rss_mib\tflink_peak_rss_mib\tflink_wall_full_s\tflink_wall_tenth_s\tflink_cpu_full_s\tflink_cpu_tenth_s\tflink_job_full_ms\tstrom_line\n' > "$tsv"
log "Nexmark: $events events (Flink also on $tenth), parallelism $par, checkpoints ${ckpt}; work dir $work"
status=0
for q in $queries; do
  log "$q: Strom"
  if ! "$NEXMARK_DIR/measure.py" --stdout "$runs/strom-$q.out" --stderr "$runs/strom-$q.err" -- \
      "$STROM_BIN" bench nexmark --query "$q" --input "$full_in" --side-input "$side" \
      --parallelism "$par" "${strom_ckpt[@]}" > "$runs/strom-$q.measure"; then
    tail -n 5 "$runs/strom-$q.err" >&2; log "$q: Strom failed"; status=1; continue
  fi
  grep -E "^$q " "$runs/strom-$q.out" | tail -n 1 > "$runs/strom-$q.line" || true
  [ -s "$runs/strom-$q.line" ] || { log "$q: no '$q events=...' line from strom"; status=1; continue; }
  log "$q: Flink, $tenth events"
  run_flink "$q" "$tenth_in" blackhole "$runs/flink-$q-tenth" || { status=1; continue; }
  log "$q: Flink, $events events"
  run_flink "$q" "$full_in" blackhole "$runs/flink-$q-full" || { status=1; continue; }
  s_eps=$(field events_per_s "$runs/strom-$q.line")
  s_core=$(field events_per_core_s "$runs/strom-$q.line")
  s_rss=$(field peak_rss_mib "$runs/strom-$q.line")
  [ -n "$s_rss" ] || s_rss=$(field maxrss_mib "$runs/strom-$q.measure")
  job_ms=$(grep -o 'net_runtime_ms=[0-9]*' "$runs/flink-$q-full.err" | tail -n 1 | cut -d= -f2)
  python3 - "$q" "$events" "$tenth" "$s_eps" "$s_core" "$s_rss" "${job_ms:-}" \
      "$runs/flink-$q-full.measure" "$runs/flink-$q-tenth.measure" "$runs/strom-$q.line" \
      "$runs/line-$q" >> "$tsv" <<'EOF' || { log "$q: could not compute the figures"; status=1; continue; }
import sys
q, n, n10, s_eps, s_core, s_rss, job_ms, full, tenth, line, summary = sys.argv[1:]
def m(path):
    d = dict(kv.split("=", 1) for kv in open(path).read().split())
    return float(d["wall_s"]), float(d["cpu_s"]), d["maxrss_mib"]
wf, cf, rss = m(full)
wt, ct, _ = m(tenth)
d = int(n) - int(n10)
f_eps = d / (wf - wt) if wf - wt > 0.05 else float("nan")
f_core = d / (cf - ct) if cf - ct > 0.05 else float("nan")
s_eps, s_core = float(s_eps), float(s_core)
def ratio(a, b):
    if b != b or b <= 0:
        return "nan"
    r = a / b
    return f"{r:.2f}" if r < 10 else f"{r:.1f}"
def i(x):
    return "nan" if x != x else str(round(x))
print("\t".join([q, i(s_eps), i(f_eps), ratio(s_eps, f_eps), i(s_core), i(f_core),
                 ratio(s_core, f_core), s_rss, rss, f"{wf:.3f}", f"{wt:.3f}", f"{cf:.3f}",
                 f"{ct:.3f}", job_ms, open(line).read().strip()]))
with open(summary, "w") as fh:
    print(f"{q} strom={i(s_eps)} flink={i(f_eps)} ratio={ratio(s_eps, f_eps)}", file=fh)
EOF
  cat "$runs/line-$q"
done
rm -rf "$work/checkpoints"

log ""
log "Nexmark, $events events, parallelism $par, checkpoints $ckpt (events/s; per core = events per CPU-second; ratio = Strom / Flink)"
cut -f1-9 "$tsv" | column -t -s $'\t' >&2
log "all figures: $tsv"
exit "$status"
