#!/usr/bin/env bash
# The long-operation runs of ../README.md predicted with their 200 streams (scenarios/ here), 20 seeds
# each, and the table beside live (table.md). From the repository root:
#   cargo build --release -p fleetsim
#   docs/results/2026-12-04-long-budget/predicted-with-streams/predict.sh
# FLEETSIM: the binary (default target/release/fleetsim under the repository root). SEEDS (20).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(git rev-parse --show-toplevel)
FLEETSIM=${FLEETSIM:-${CARGO_TARGET_DIR:-$ROOT/target}/release/fleetsim}
SEEDS=${SEEDS:-20}
for ov in after after-long-budget; do
  for st in keepalive new; do
    "$FLEETSIM" run "scenarios/$ov-$st.toml" --seeds "$SEEDS" --out "runs/$ov-$st" --threads 2 > "runs-$ov-$st.txt"
  done
done
python3 table.py > table.md
