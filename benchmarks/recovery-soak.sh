#!/usr/bin/env bash
# Soak test of crash recovery: run `strom example sensors` with checkpoints, kill it with
# SIGKILL at random moments, restart it with `--restore latest` until it finishes, and
# compare its committed output with an uninterrupted run. Repeats ITERATIONS times.
#
#   benchmarks/recovery-soak.sh [ITERATIONS] [INPUT.csv]
set -euo pipefail
cd "$(dirname "$0")/.."
ITER=${1:-200}
INPUT=${2:-tests/data/golden/input.csv}
cargo build --release --quiet
BIN=target/release/strom
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# An out-of-orderness bound above the input's largest disorder keeps the output independent
# of how the two source subtasks' watermarks interleave (see tests/recovery.rs).
ARGS=(example sensors --input "$INPUT" --window hop:10s,5s --allowed-lateness 2s --watermark-interval 0ms --out-of-orderness 30s --parallelism 2)
"$BIN" "${ARGS[@]}" --output "$WORK/expected.csv" 2>/dev/null
sort "$WORK/expected.csv" > "$WORK/expected.sorted"
kills_total=0
for i in $(seq 1 "$ITER"); do
  rm -rf "$WORK/out" "$WORK/chk"
  kills=0
  while :; do
    "$BIN" "${ARGS[@]}" --rate 40000 --checkpoint-interval 200ms --checkpoint-dir "$WORK/chk" \
      --restore latest --output "$WORK/out" 2>/dev/null &
    pid=$!
    if (( kills < 5 )); then
      sleep "0.$(( RANDOM % 5 + 1 ))$(( RANDOM % 10 ))"
      if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        kills=$((kills + 1))
        continue
      fi
    fi
    wait "$pid"
    break
  done
  kills_total=$((kills_total + kills))
  cat "$WORK"/out/part-* | sort > "$WORK/got.sorted"
  if ! cmp -s "$WORK/got.sorted" "$WORK/expected.sorted"; then
    echo "iteration $i: output differs after $kills kills" >&2
    diff "$WORK/expected.sorted" "$WORK/got.sorted" | head -20 >&2
    exit 1
  fi
  echo "iteration $i: ok ($kills kills)"
done
echo "all $ITER iterations exactly once ($kills_total kills in total)"
