#!/usr/bin/env bash
# How fast the real service's drain closes its idle keep-alive connections (jitter lever off):
# N keep-alive connections held by fleetsim's generator, SIGTERM to the service, and the
# generator's close records give the close times: every connection the server closes ("eof", or
# "error:reset" for the ones reset rather than ended cleanly; the generator itself closes none
# here).
# Usage: measure-close-rate.sh PORT N REPS    (from the repository root; binaries in target/release)
set -euo pipefail
PORT=${1:-18391}; N=${2:-670}; REPS=${3:-5}
BIN=${BIN:-target/release/fleetsim}; SVC=${SVC:-target/release/fleetsim-service}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then echo "port $PORT is taken" >&2; exit 1; fi
for rep in $(seq 1 "$REPS"); do
  taskset -c 0 "$SVC" --listen "127.0.0.1:$PORT" --drain-lever true --jitter-lever false \
    --drain-timeout 10s --shutdown-budget 20s --max-connections 4096 >"$work/svc-$rep.log" 2>&1 &
  svc=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
  taskset -c 1 "$BIN" load --no-signals --quiet --target "http://127.0.0.1:$PORT/work?ms=1" \
    --clients "$N" --rate 100 --duration 8s --out "$work/rec-$rep.ndjson" 2>/dev/null &
  gen=$!
  sleep 5
  kill -TERM "$svc"
  wait "$svc" || true
  wait "$gen" || true
  python3 - "$work/rec-$rep.ndjson" "$rep" "$N" <<'PY'
import collections, json, sys
path, rep, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
closes, why = [], collections.Counter()
for l in open(path):
    if l.startswith('{"t":"c"'):
        r = json.loads(l)
        if r["ev"] == "close" and r.get("why") in ("eof", "error:reset"):
            closes.append(r["at"])
            why[r["why"]] += 1
closes.sort()
span_ms = (closes[-1] - closes[0]) / 1e6
peak = max(collections.Counter(int(t // 1e7) for t in closes).values())
print(f"rep={rep} n={n} closes={len(closes)} eof={why['eof']} reset={why['error:reset']} span_ms={span_ms:.1f} "
      f"rate_per_ms={len(closes) / max(span_ms, 1e-3):.2f} peak_per_10ms={peak}")
PY
done
