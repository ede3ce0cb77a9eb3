#!/usr/bin/env bash
# Runs the Indexed Job's sweep on this machine, shard by shard as the Job's tasks would, then
# merges: the same files as `kubectl apply -k deploy/sweep` + merge-job.yaml, no cluster.
#   deploy/sweep/run-local.sh [OUT] [SHARDS]
set -euo pipefail
out=${1:-fleetsim-sweeps/indexed}
shards=${2:-8}
fleetsim=${FLEETSIM:-fleetsim}
for ((k = 0; k < shards; k++)); do
  "$fleetsim" sweep after \
    --vary=lifecycle.prestop=0s..20s/1s --vary=drain.timeout=2s..22s/1s \
    --seeds=20 --seed=1 --shard="$k/$shards" --out="$out/shard-$k" --no-progress
done
"$fleetsim" merge "$out"/shard-* --out "$out/merged"
