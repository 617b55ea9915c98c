#!/usr/bin/env bash
# Strom's CEP benchmark (issue #7) beside real Apache Flink (2.3, flink-cep, a local
# MiniCluster): the same generated events and the same three-step pattern per key in both
# engines, `strom bench cep` and java/CepBench.java. See benchmarks/cep/BENCH.md.
#
# usage: compare-flink.sh [--events N] [--keys K] [-p N] [--pattern strict|relaxed]
#                         [--disorder-ms D] [--runs R] [--work DIR]
#   --events N        events of the timed runs (default 10000000); both engines also run
#                     N/10 events, and steady rates are (N - N/10) / (wall(N) - wall(N/10))
#   --keys K          keys (default 1000)
#   -p N              parallelism of both engines (default 1)
#   --pattern P       strict (next, default) or relaxed (followed_by)
#   --disorder-ms D   event-time disorder and watermark bound (default 100, less than K)
#   --runs R          processes per engine and size; medians are reported (default 3)
#   --work DIR        where the logs and results.txt go (default target/cep-flink)
# Environment: STROM_BIN (default: cargo build --release, then target/release/strom),
# FLINK_HARNESS (default ../shared/flink beside the repository), JAVA_OPTS.
#
# Prints on stdout (ratio = Strom / Flink; per core = events per CPU-second of the process):
#   strom=<events/s> flink=<events/s> ratio=<x> strom_per_core=… flink_per_core=… ratio_per_core=…
#   matches strom=<n>/<n10> flink=<n>/<n10> (equal|DIFFERENT)
# and exits 1 when the engines found different numbers of matches.
set -euo pipefail
CEP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$CEP_DIR/../.." && pwd)"
MEASURE="$REPO_ROOT/benchmarks/nexmark/measure.py"
if [ -z "${FLINK_HARNESS:-}" ]; then
  if [ -f "$REPO_ROOT/../shared/flink/env.sh" ]; then
    FLINK_HARNESS="$(cd "$REPO_ROOT/../shared/flink" && pwd)"
  else
    FLINK_HARNESS=/work/shared/flink
  fi
fi
# shellcheck source=/dev/null
source "$FLINK_HARNESS/env.sh"

log() { echo "$*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

events=10000000
keys=1000
par=1
pattern=strict
disorder=100
runs=3
work="$REPO_ROOT/target/cep-flink"
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events="$2"; shift 2 ;;
    --keys) keys="$2"; shift 2 ;;
    -p|--parallelism) par="$2"; shift 2 ;;
    --pattern) pattern="$2"; shift 2 ;;
    --disorder-ms) disorder="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
case "$pattern" in strict|relaxed) ;; *) die "--pattern strict|relaxed" ;; esac
tenth=$((events / 10))
[ "$tenth" -ge 1 ] || die "--events must be at least 10"
[ $((events % par)) -eq 0 ] && [ $((tenth % par)) -eq 0 ] \
  || die "--events and --events/10 must be multiples of -p (Flink's generator splits evenly)"

# Flink's jars (once), then CepBench (when its source changed). Its own class directory, so
# that it does not disturb flink-cases.sh's.
oracle_setup
BENCH_CLASSES="$FLINK_HOME_CACHE/cep-bench-classes"
if [ ! -f "$BENCH_CLASSES/.stamp" ] || [ "$CEP_DIR/java/CepBench.java" -nt "$BENCH_CLASSES/.stamp" ]; then
  rm -rf "$BENCH_CLASSES" && mkdir -p "$BENCH_CLASSES"
  javac -nowarn -d "$BENCH_CLASSES" -cp "$FLINK_LIB/*" "$CEP_DIR/java/CepBench.java" >&2
  touch "$BENCH_CLASSES/.stamp"
fi

if [ -z "${STROM_BIN:-}" ]; then
  log "building strom (cargo build --release --bin strom)"
  (cd "$REPO_ROOT" && cargo build --release --bin strom >&2) || die "cargo build failed"
  STROM_BIN="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/strom"
fi
case "$STROM_BIN" in /*) ;; *) STROM_BIN="$(cd "$(dirname "$STROM_BIN")" && pwd)/$(basename "$STROM_BIN")" ;; esac
[ -x "$STROM_BIN" ] || die "no strom binary at $STROM_BIN"

mkdir -p "$work"
work="$(cd "$work" && pwd)"
logs="$work/runs"
rm -rf "$logs" && mkdir -p "$logs"

# One process under measure.py; leaves PREFIX.out, .err, .measure.
# usage: run ENGINE N I
run() {
  local engine="$1" n="$2" i="$3" pre="$logs/$1-$2-$3"
  local cmd
  if [ "$engine" = strom ]; then
    cmd=("$STROM_BIN" bench cep --events "$n" --keys "$keys" --parallelism "$par"
      --pattern "$pattern" --disorder-ms "$disorder")
  else
    # shellcheck disable=SC2206
    cmd=(java $JAVA_OPTS -cp "$FLINK_LIB/*:$BENCH_CLASSES" CepBench --events "$n" --keys "$keys"
      --p "$par" --pattern "$pattern" --disorder-ms "$disorder")
  fi
  if ! "$MEASURE" --stdout "$pre.out" --stderr "$pre.err" -- "${cmd[@]}" > "$pre.measure"; then
    grep -m 3 -E 'Exception|Error|error' "$pre.err" >&2 || tail -n 5 "$pre.err" >&2
    die "$engine failed on $n events (see $pre.err)"
  fi
  log "  $engine $n #$i: $(cat "$pre.measure") $(grep -o -E '(MATCHES|matches)=[0-9]+' "$pre.out")"
}

log "CEP: $pattern pattern, $keys keys, parallelism $par, $events and $tenth events, $runs runs each; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for engine in strom flink; do
  for n in "$tenth" "$events"; do
    for i in $(seq 1 "$runs"); do
      run "$engine" "$n" "$i"
    done
  done
done
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$logs" "$events" "$tenth" "$runs" "$work/results.txt" <<'EOF'
import re, statistics, sys
logs, n, n10, runs, results = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def load(engine, size):
    walls, cpus, rss, matches, inproc = [], [], [], set(), []
    for i in range(1, runs + 1):
        pre = f"{logs}/{engine}-{size}-{i}"
        d = dict(kv.split("=", 1) for kv in open(pre + ".measure").read().split())
        walls.append(float(d["wall_s"]))
        cpus.append(float(d["cpu_s"]))
        rss.append(int(d["maxrss_mib"]))
        out = open(pre + ".out").read()
        m = re.search(r"(?:MATCHES|matches)=(\d+)", out)
        matches.add(int(m.group(1)) if m else -1)
        e = re.search(r"events_per_s=(\d+)", out)
        if e:
            inproc.append(float(e.group(1)))
    return {
        "wall": statistics.median(walls), "cpu": statistics.median(cpus), "rss": max(rss),
        "matches": matches, "inproc": statistics.median(inproc) if inproc else None,
    }

fig = {(e, s): load(e, s) for e in ("strom", "flink") for s in (n10, n)}

def steady(e, key):
    d = fig[(e, n)][key] - fig[(e, n10)][key]
    return (n - n10) / d if d > 0.05 else float("nan")

def ratio(a, b):
    return f"{a / b:.1f}" if b == b and b > 0 else "nan"

def i(x):
    return "nan" if x != x else str(round(x))

s_eps, f_eps = steady("strom", "wall"), steady("flink", "wall")
s_core, f_core = steady("strom", "cpu"), steady("flink", "cpu")
lines = [
    f"strom={i(s_eps)} flink={i(f_eps)} ratio={ratio(s_eps, f_eps)} "
    f"strom_per_core={i(s_core)} flink_per_core={i(f_core)} ratio_per_core={ratio(s_core, f_core)}",
]
m = {e: (fig[(e, n)]["matches"], fig[(e, n10)]["matches"]) for e in ("strom", "flink")}
fmt = lambda ms: "/".join(",".join(str(x) for x in sorted(s)) for s in ms)
equal = m["strom"] == m["flink"] and all(len(s) == 1 for s in m["strom"])
lines.append(f"matches strom={fmt(m['strom'])} flink={fmt(m['flink'])} ({'equal' if equal else 'DIFFERENT'})")
detail = []
for e in ("strom", "flink"):
    for s in (n10, n):
        f = fig[(e, s)]
        extra = f" in_process_events_per_s={i(f['inproc'])}" if f["inproc"] else ""
        detail.append(f"{e} events={s} median_wall_s={f['wall']:.3f} median_cpu_s={f['cpu']:.3f} "
                      f"peak_rss_mib={f['rss']}{extra}")
with open(results, "w") as fh:
    print("\n".join(lines + detail), file=fh)
print("\n".join(lines))
for d in detail:
    print(d, file=sys.stderr)
sys.exit(0 if equal else 1)
EOF
