#!/usr/bin/env bash
# The jitter-sizing runs of ../README.md predicted on a calibration of their own setup
# (calibration.toml, from the calibration run in calibration-run/), both generators: per jitter
# window and style, SEEDS seeds (20), each seed's own figures in runs/<scenario>/seeds.csv (the
# peak of new connections per 10 ms in the deploy window, failed, the window's and the
# baseline's p99), then the table beside live (table.md) and the rows of the plot. From the
# repository root:
#   cargo build --release -p fleetsim
#   docs/results/2026-12-04-jitter-sizing/predicted-calibrated/predict.sh
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(git rev-parse --show-toplevel)
FLEETSIM=${FLEETSIM:-${CARGO_TARGET_DIR:-$ROOT/target}/release/fleetsim}
SEEDS=${SEEDS:-20}
for s in scenarios/*.toml; do
  w=$(basename "$s" .toml)
  echo "predict: $w" >&2
  "$FLEETSIM" run "$s" --seeds "$SEEDS" --out "runs/$w" --threads 2 > "runs-$w.txt"
  echo "seed,peak_new_connections_per_10ms,failed,p99_window_ms,p99_baseline_ms" > "runs/$w/seeds.csv"
  for seed in $(seq 1 "$SEEDS"); do
    "$FLEETSIM" run "$s" --seed "$seed" --seeds 1 --out "runs/$w/by-seed/$seed" --threads 1 > /dev/null 2>&1
    # Keep the seed's summary figures and the peak of its reconnect curve in the deploy window
    # (the curves themselves are 9,000 rows each).
    python3 - "runs/$w/by-seed/$seed" "$seed" >> "runs/$w/seeds.csv" <<'PY'
import csv, glob, json, sys
d, seed = sys.argv[1], sys.argv[2]
s = json.load(open(glob.glob(f'{d}/seeds/*.json')[0]))
w0, w1 = s['window_s']
rows = [(int(r['t_ms']) / 1000, int(r['new_connections'])) for r in csv.DictReader(open(f'{d}/reconnects.csv'))]
print(f"{seed},{max((n for t, n in rows if w0 <= t < w1), default=0)},{s['failed']},{s['latency_ms']['window']['p99']},{s['latency_ms']['baseline']['p99']}")
PY
    rm -r "runs/$w/by-seed/$seed"
  done
  rmdir "runs/$w/by-seed"
done
python3 table.py > table.md
