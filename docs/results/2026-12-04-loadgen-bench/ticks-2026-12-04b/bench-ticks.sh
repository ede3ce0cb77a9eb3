#!/usr/bin/env bash
# open loop, tick 500 us (default) and 800 us, three runs in a row, same binary
cd "$(git rev-parse --show-toplevel)"
for r in 1 2 3; do
  for t in 500us 800us; do
    echo "== run $r tick $t $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
    RT=1 CLOSED="" BIN=target/release/fleetsim SERVER=target/release/examples/trivial-server \
      FLEETSIM_ARGS="--tick $t" KEEP=docs/results/2026-12-04-loadgen-bench/ticks-2026-12-04b/run-$r-tick-$t \
      bash scripts/bench-loadgen 2>&1
  done
done
echo "== end $(date -u +%FT%TZ)"
