#!/usr/bin/env bash
# Jitter-window sizing, live: the storm load (2,000 eager keep-alive clients, 200 req/s per style)
# rolled with `after` and its jitter window set to each W (0 = jitter lever off, closes at once).
set -euo pipefail
cd /work/main
export KUBECONFIG=$(deploy/cluster/up | tail -n1); eval "$(deploy/cluster/env)"
FLEETSIM=/work/targets/fleetsim-8d7ea73
OUT=${OUT:-/work/live/2026-12-04-jitter-sizing}   # round 2: OUT=.../round-2 WINDOWS="250ms 1s 500ms 3s 0s"
mkdir -p "$OUT/overlays"
for w in ${WINDOWS:-0s 3s 500ms 1s 250ms}; do
  d="$OUT/overlays/after-jitter-$w"
  mkdir -p "$d"
  rel=$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' /work/main/deploy/k8s/overlays/after "$d")
  if [ "$w" = 0s ]; then lit="      - FLEETSIM_JITTER_LEVER=false"; else lit="      - FLEETSIM_JITTER_WINDOW=$w"; fi
  cat > "$d/kustomization.yaml" <<K
# 'after' with its jitter window set to $w (0s: the jitter lever off, closes at once; maxSurge 1 stays)
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $rel
commonAnnotations:
  fleetsim.dev/overlay: after-jitter-$w
configMapGenerator:
  - name: fleetsim-levers
    behavior: merge
    literals:
$lit
K
  echo "=== $(date -u +%FT%TZ) window $w"
  "$FLEETSIM" live "$d" --name "jitter-$w" --clients 2000 --rate 200 --eager-reconnect \
    --generator-priority 10 --job-rate 0 --out "$OUT"
done
