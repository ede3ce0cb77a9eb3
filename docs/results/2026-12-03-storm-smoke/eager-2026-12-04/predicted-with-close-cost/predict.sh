#!/usr/bin/env bash
# The jitter-off eager storm run of 2026-12-04 predicted with both costs measured on loopback:
# the generator's reopens (client.eager_reopen_rate, ../predicted-with-connect-cost) and the
# real service's drain closing its idle connections one after another (drain.close_rate,
# measure-close-rate.sh here). README.md here. From the repository root:
#   nice -n 19 cargo build --release -p fleetsim
#   docs/results/2026-12-03-storm-smoke/eager-2026-12-04/predicted-with-close-cost/predict.sh
# FLEETSIM: the binary (default: $CARGO_TARGET_DIR/release/fleetsim, else target/release/fleetsim
# under the repository root). SEEDS: seeds per scenario (20). PLOTS=0 skips the plots.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(git rev-parse --show-toplevel)
FLEETSIM=${FLEETSIM:-${CARGO_TARGET_DIR:-$ROOT/target}/release/fleetsim}
SEEDS=${SEEDS:-20}
LIVE=..
ov=after-no-surge
s=scenarios/$ov-keepalive-eager-close-cost.toml
"$FLEETSIM" run "$s" --seeds "$SEEDS" --out "runs/$ov" --threads 2 > "runs-$ov.txt"
for seed in $(seq 1 "$SEEDS"); do
  "$FLEETSIM" run "$s" --seed "$seed" --seeds 1 --out "runs/$ov/by-seed/$seed" --threads 1 > /dev/null 2>&1
  rm "runs/$ov/by-seed/$seed/timeline.csv" "runs/$ov/by-seed/$seed/digests.csv"
done
python3 table.py > table.md
[ "${PLOTS:-1}" = 0 ] && exit 0
W1=$(python3 -c 'import json;print(",".join(str(x) for x in json.load(open("../after-no-surge/run-1/keepalive/summary.json"))["window_s"]))')
EX=(cargo run --release -q -p plots --example reconnects_compare --)
"${EX[@]}" reconnects-after-no-surge-zoom.svg "Jitter off, the storms up close: both costs, the connect cost alone, and live" "$W1" 24.5,29.5 \
  "connect + close cost, seed 1=runs/after-no-surge/reconnects.csv" \
  "connect cost only, seed 1=../predicted-with-connect-cost/runs/after-no-surge/reconnects.csv" \
  "live run 1=$LIVE/after-no-surge/run-1/keepalive/reconnects.csv"
