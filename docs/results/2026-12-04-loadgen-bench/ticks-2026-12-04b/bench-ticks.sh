#!/usr/bin/env bash
# open loop, tick 500 us (default) and 800 us, three runs in a row, same binary
cd /work/main
for r in 1 2 3; do
  for t in 500us 800us; do
    echo "== run $r tick $t $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
    RT=1 CLOSED="" BIN=/work/targets/fleetsim-new SERVER=/work/main/target/release/examples/trivial-server \
      FLEETSIM_ARGS="--tick $t" KEEP=/work/logs/s26/bench-ticks/run-$r-tick-$t \
      bash /work/run-scripts/bench-loadgen-s26b 2>&1
  done
done
echo "== end $(date -u +%FT%TZ)"
