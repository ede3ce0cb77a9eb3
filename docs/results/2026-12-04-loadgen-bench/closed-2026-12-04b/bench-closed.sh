#!/usr/bin/env bash
# closed loop only, three runs in a row
cd "$(git rev-parse --show-toplevel)"
for r in 1 2 3; do
  echo "== run $r $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
  RT=1 RATES="" CLOSED="16 64 256" BIN=target/release/fleetsim SERVER=target/release/examples/trivial-server \
    KEEP=docs/results/2026-12-04-loadgen-bench/closed-2026-12-04b/run-$r bash scripts/bench-loadgen 2>&1
done
echo "== end $(date -u +%FT%TZ)"
