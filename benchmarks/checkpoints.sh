#!/usr/bin/env bash
# Checkpoint benchmarks (docs/benchmarks.md): overhead of checkpoints every second,
# checkpoint duration and size at ~100 MB and ~1 GB of state, recovery time, incremental vs
# full bytes on the disk backend, and keyed state larger than a memory limit.
#
#   benchmarks/checkpoints.sh [section...]   sections: overhead size recovery incremental ltm
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
B=target/release/strom
W=${WORK:-/tmp/strom-bench-chk}
rm -rf "$W"; mkdir -p "$W"
sections=${*:-overhead size recovery incremental ltm}
summary() { awk '/^events/{print} /^restored/{print} /^checkpoint/{n++; d+=$3; last=$0} END{if(n) printf "  %d checkpoints; last: %s\n", n, last}' | sed 's/duration_ms=/duration_ms=/'; }
for s in $sections; do case $s in
overhead)
  for keys in 100000 1000000; do
    for run in 1 2 3; do
      echo "== overhead keys=$keys run $run: off"; $B bench checkpoint --events 20000000 --keys $keys --value-bytes 8 2>/dev/null | summary
      echo "== overhead keys=$keys run $run: every 1s"; $B bench checkpoint --events 20000000 --keys $keys --value-bytes 8 --checkpoint-interval 1s --checkpoint-dir "$W/o" 2>/dev/null | summary
      rm -rf "$W/o"
    done
  done;;
size|recovery)
  for vb in 100 1000; do
    echo "== size heap keys=1M value_bytes=$vb"
    $B bench checkpoint --events 3000000 --keys 1000000 --value-bytes $vb --checkpoint-interval 2s --checkpoint-dir "$W/s$vb" 2>/dev/null | summary
    echo "== recovery heap value_bytes=$vb (restore the final checkpoint)"
    $B bench checkpoint --events 3000000 --keys 1000000 --value-bytes $vb --checkpoint-interval 600s --checkpoint-dir "$W/s$vb" --restore 2>/dev/null | summary
    rm -rf "$W/s$vb"
  done;;
incremental)
  echo "== incremental disk keys=1M value_bytes=100, 2M events, checkpoint every 1s"
  $B bench checkpoint --backend disk --state-dir "$W/state" --events 2000000 --keys 1000000 --value-bytes 100 --checkpoint-interval 1s --checkpoint-dir "$W/inc" 2>/dev/null \
    | awk '/^events/{print} /^checkpoint/{print "  " $2, $3, $4, $5}'
  rm -rf "$W/inc" "$W/state";;
ltm)
  # Keyed state well beyond a memory limit: a cgroup (v1) capped at 1 GiB, ~2 GB of state.
  cg=/sys/fs/cgroup/memory/strom-ltm
  mkdir -p $cg
  echo $((1 << 30)) > $cg/memory.limit_in_bytes
  echo 0 > $cg/memory.max_usage_in_bytes 2>/dev/null || true
  echo "== larger than memory: disk backend, 2M keys x 1000 B (incompressible), cgroup limit 1 GiB"
  ( while sleep 2; do du -sm "$W/ltm" 2>/dev/null | cut -f1; done > "$W/du.log" ) & du_pid=$!
  ( echo $BASHPID > $cg/cgroup.procs; exec $B bench checkpoint --backend disk --state-dir "$W/ltm" --cache-mb 256 --events 4000000 --keys 2000000 --value-bytes 1000 --random-values 2>/dev/null ) | summary
  kill $du_pid 2>/dev/null || true
  echo "  peak memory charged to the cgroup (RSS and page cache): $(( $(cat $cg/memory.max_usage_in_bytes) >> 20 )) MiB of $(( $(cat $cg/memory.limit_in_bytes) >> 20 )) MiB; OOM kills: $(grep -c . $cg/memory.oom_control >/dev/null && awk '/oom_kill /{print $2}' $cg/memory.oom_control)"
  echo "  largest state directory during the run: $(sort -n "$W/du.log" | tail -1) MB"
  rmdir $cg 2>/dev/null || true
  rm -rf "$W/ltm";;
esac; done
