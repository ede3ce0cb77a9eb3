#!/usr/bin/env bash
# The streams-for-minutes run of ../README.md predicted (scenarios/ here: the long-budget
# predictions with their 200 streams and a 180 s baseline), 20 seeds per generator, and the table
# beside live (table.md). From the repository root:
#   cargo build --release -p fleetsim
#   docs/results/2026-12-04-long-budget/streams-minutes/predicted/predict.sh
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(git rev-parse --show-toplevel)
FLEETSIM=${FLEETSIM:-${CARGO_TARGET_DIR:-$ROOT/target}/release/fleetsim}
SEEDS=${SEEDS:-20}
for st in keepalive new; do
  "$FLEETSIM" run "scenarios/after-long-budget-$st.toml" --seeds "$SEEDS" --out "runs/$st" --threads 2 > "runs-$st.txt"
done
python3 table.py > table.md
