#!/usr/bin/env bash
# The short-budget long-operation run of docs/results/2026-12-04-long-budget again, with the
# generators retrying shed requests after their Retry-After (--shed-retries 3).
set -euo pipefail
cd /work/main
export KUBECONFIG=$(deploy/cluster/up | tail -n1); eval "$(deploy/cluster/env)"
FLEETSIM=${FLEETSIM:-/work/targets/fleetsim-retries}
while pgrep -f "fleetsim.* live" >/dev/null; do echo "waiting: another fleetsim live runs"; sleep 20; done
"$FLEETSIM" live after --name ${NAME:-after-shed-retries} --sse 200 --path '/work?ms=20000' --rate 3 --timeout 60s \
  --duration 200s --baseline 20s --generator-priority 10 --job-rate 0 --shed-retries 3 \
  --out /work/live/2026-12-04-shed-retries
