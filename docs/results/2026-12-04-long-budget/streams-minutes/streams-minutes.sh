#!/usr/bin/env bash
# Streams held for minutes, then the 600 s budget's roll: the long-budget run of
# docs/results/2026-12-04-long-budget with a 180 s baseline (every stream open 3 minutes or more
# before the roll asks it to leave) and the shed retries on.
set -euo pipefail
cd /work/main
export KUBECONFIG=$(deploy/cluster/up | tail -n1); eval "$(deploy/cluster/env)"
FLEETSIM=${FLEETSIM:-/work/targets/fleetsim-e1cb14e}
"$FLEETSIM" live after-long-budget --name after-long-budget-streams-3min --sse 200 --path '/work?ms=20000' \
  --rate 3 --timeout 60s --duration 360s --baseline 180s --generator-priority 10 --job-rate 0 \
  --shed-retries 3 --out /work/live/2026-12-04-streams-minutes
