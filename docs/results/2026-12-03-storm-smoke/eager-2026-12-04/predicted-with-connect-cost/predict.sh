#!/usr/bin/env bash
# The predictions of the 2026-12-04 eager storm runs with the generator's connect cost
# (client.eager_reopen_rate; README.md here). From the repository root:
#   nice -n 19 cargo build --release -p fleetsim
#   docs/results/2026-12-03-storm-smoke/eager-2026-12-04/predicted-with-connect-cost/predict.sh
# FLEETSIM: the binary (default: $CARGO_TARGET_DIR/release/fleetsim, else target/release/fleetsim
# under the repository root). SEEDS: seeds per scenario (20). PLOTS=0 skips the plots.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(git rev-parse --show-toplevel)
FLEETSIM=${FLEETSIM:-${CARGO_TARGET_DIR:-$ROOT/target}/release/fleetsim}
SEEDS=${SEEDS:-20}
LIVE=..
for ov in after-no-surge after; do
  s=scenarios/$ov-keepalive-eager-connect-cost.toml
  # Summary (mean and 95% interval over the seeds) and seed 1's curve.
  "$FLEETSIM" run "$s" --seeds "$SEEDS" --out "runs/$ov" --threads 2 > "runs-$ov.txt"
  # Every seed's reconnect curve (fleetsim run writes the first seed's).
  for seed in $(seq 1 "$SEEDS"); do
    "$FLEETSIM" run "$s" --seed "$seed" --seeds 1 --out "runs/$ov/by-seed/$seed" --threads 1 > /dev/null 2>&1
    rm "runs/$ov/by-seed/$seed/timeline.csv" "runs/$ov/by-seed/$seed/digests.csv"
  done
done
python3 table.py > table.md
[ "${PLOTS:-1}" = 0 ] && exit 0
W1=$(python3 -c 'import json;print(",".join(str(x) for x in json.load(open("../after-no-surge/run-1/keepalive/summary.json"))["window_s"]))')
W2=$(python3 -c 'import json;print(",".join(str(x) for x in json.load(open("../after/run-2/keepalive/summary.json"))["window_s"]))')
EX=(cargo run --release -q -p plots --example reconnects_compare --)
"${EX[@]}" reconnects-after-no-surge.svg "Eager storm, jitter off (after-no-surge): predicted with the connect cost, without, and live" "$W1" 15,40 \
  "with connect cost, seed 1=runs/after-no-surge/reconnects.csv" "no cost (../predicted), seed 1=../predicted/runs/after-no-surge/reconnects.csv" \
  "live run 1=$LIVE/after-no-surge/run-1/keepalive/reconnects.csv"
"${EX[@]}" reconnects-after-no-surge-zoom.svg "Jitter off, the storms up close: with the connect cost, without, and live" "$W1" 24.5,29.5 \
  "with connect cost, seed 1=runs/after-no-surge/reconnects.csv" "no cost (../predicted), seed 1=../predicted/runs/after-no-surge/reconnects.csv" \
  "live run 1=$LIVE/after-no-surge/run-1/keepalive/reconnects.csv"
"${EX[@]}" reconnects-after.svg "Eager, jitter on 3 s (after): predicted with the connect cost beside live" "$W2" 15,40 \
  "with connect cost, seed 1=runs/after/reconnects.csv" "live run 1=$LIVE/after/run-1/keepalive/reconnects.csv" \
  "live run 2=$LIVE/after/run-2/keepalive/reconnects.csv"
