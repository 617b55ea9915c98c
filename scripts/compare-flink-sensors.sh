#!/usr/bin/env bash
# Compare `strom example sensors` with real Apache Flink (../shared/flink) on a fresh input.
# usage: scripts/compare-flink-sensors.sh [gen_sensors.py args…]
#   e.g. scripts/compare-flink-sensors.sh --seed 7 --count 50000 --sensors 20 --max-delay-ms 4000 \
#          --late-frac 0.02 --late-max-ms 20000 --pause-prob 0.01 --pause-min-ms 2000 --pause-max-ms 9000
# Runs: DataStream tumble (lateness 0 and 2 s, with late output) and SQL tumble/hop/session,
# and prints one line per comparison: `<case> rows=<n> OK` or the first differences.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
flink="${STROM_FLINK_HARNESS:-$here/../shared/flink}"
strom="${STROM_BIN:-$here/target/release/strom}"
[ -x "$strom" ] || (cd "$here" && cargo build --release -q)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$flink/gen_sensors.py" "$@" -o "$work/in.csv"

compare() { # name strom_file flink_dir [--ts-ms]
  local name=$1 mine=$2 dir=$3 ts=${4:-}
  python3 "$flink/canon.py" $ts -o "$work/$name.flink" "$dir"
  python3 - "$mine" "$work/$name.flink" "$name" <<'PY'
import sys
mine = sorted(l for l in open(sys.argv[1]).read().split('\n') if l)
ref = sorted(l for l in open(sys.argv[2]).read().split('\n') if l)
bad = []
if len(mine) != len(ref):
    bad.append(f"row count {len(mine)} vs flink {len(ref)}")
for a, b in zip(mine, ref):
    if a == b:
        continue
    x, y = a.split(','), b.split(',')
    ok = len(x) == len(y) and len(x) == 7 and all(p == q for i, (p, q) in enumerate(zip(x, y)) if i != 4) \
        and abs(float(x[4]) - float(y[4])) <= 1e-9 * abs(float(y[4]))
    if not ok:
        bad.append(f"strom {a} | flink {b}")
print(f"{sys.argv[3]} rows={len(ref)} " + ("OK" if not bad else "DIFF\n  " + "\n  ".join(bad[:5])))
PY
}

for lat in 0 2000; do
  "$flink/flink_ds.sh" --input "$work/in.csv" --out "$work/ds$lat" --late "$work/dsl$lat" --wm per-event --lateness-ms $lat >/dev/null 2>&1
  "$strom" example sensors --input "$work/in.csv" --output "$work/s_ds$lat.csv" --late-output "$work/s_dsl$lat.csv" \
    --window tumble:10s --out-of-orderness 5s --allowed-lateness ${lat}ms --watermark-interval 0ms 2>/dev/null
  compare "ds_tumble_lateness${lat}ms" "$work/s_ds$lat.csv" "$work/ds$lat"
  compare "ds_late_lateness${lat}ms" "$work/s_dsl$lat.csv" "$work/dsl$lat"
done
for q in tumble:tumble:10s hop:hop:10s,5s session:session:3s; do
  IFS=: read -r sqlname kind arg <<<"$q"
  "$flink/flink_sql.sh" -i "$work/in.csv" -o "$work/sql_$sqlname" "$flink/sql/$sqlname.sql" >/dev/null 2>&1
  "$strom" example sensors --input "$work/in.csv" --output "$work/s_$sqlname.csv" --window "$kind:$arg" \
    --out-of-orderness 4999ms --watermark-interval 0ms 2>/dev/null
  compare "sql_$sqlname" "$work/s_$sqlname.csv" "$work/sql_$sqlname" --ts-ms
done
