#!/usr/bin/env bash
# Issue #3's benchmark: `strom example sensors` (tumble 10 s) over 10 M events from a CSV file
# and from the in-memory generator, at parallelism 1 and 2, beside real Flink on the same
# file (../shared/flink). Prints events/s and peak RSS per run.
# usage: benchmarks/sensors.sh [EVENTS] [FILE]   (default 10000000, a generated file)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
flink="${STROM_FLINK_HARNESS:-$here/../shared/flink}"
n="${1:-10000000}"
file="${2:-/tmp/strom-bench/sensors-$n.csv}"
strom="$here/target/release/strom"
(cd "$here" && cargo build --release -q)
mkdir -p "$(dirname "$file")" /tmp/strom-bench
if [ ! -f "$file" ]; then
  python3 "$flink/gen_sensors.py" --seed 1 --count "$n" -o "$file"
fi
measure() { # label command…
  local label=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o /tmp/strom-bench/rss "$@" >/dev/null 2>/tmp/strom-bench/err || { cat /tmp/strom-bench/err; return 1; }
  t1=$(date +%s.%N)
  python3 -c "import sys; s=$t1-$t0; print(f'{sys.argv[1]:<44} {s:7.2f} s  {$n/s/1e6:7.2f} M events/s  peak RSS {int(sys.argv[2])/1024:7.1f} MiB')" "$label" "$(cat /tmp/strom-bench/rss)"
}
for p in 1 2; do
  measure "strom csv tumble 10s p=$p" "$strom" example sensors --input "$file" --output /tmp/strom-bench/out.csv --window tumble:10s --parallelism $p
done
measure "strom csv hop 10s/1s p=2" "$strom" example sensors --input "$file" --output /tmp/strom-bench/out.csv --window hop:10s,1s --parallelism 2
for p in 1 2; do
  measure "strom generator tumble 10s p=$p" "$strom" bench sensors --events "$n" --parallelism $p --runs 1
done
measure "strom generator hop 10s/1s p=2" "$strom" bench sensors --events "$n" --parallelism 2 --window hop:10s,1s --runs 1
if [ -d "$flink" ] && [ -z "${SKIP_FLINK:-}" ]; then
  measure "flink csv tumble 10s p=1 (periodic wm)" "$flink/flink_ds.sh" --input "$file" --out /tmp/strom-bench/flink-out --late /tmp/strom-bench/flink-late --wm periodic
  measure "flink generator tumble 10s p=1 (periodic wm)" "$flink/flink_ds.sh" --gen "$n" --out /tmp/strom-bench/flink-out --wm periodic
fi
