#!/usr/bin/env bash
# Cross-check with a client no one here wrote: wrk (Debian package `wrk`) drives the service
# through HAProxy while the old process gets SIGTERM and a replacement (started first) takes over.
# The script plays the health checker like tests/rollout.rs: it polls the old process's /readyz
# every 100 ms and, once that fails, waits a 300 ms deregistration lag and takes the backend out
# through HAProxy's runtime API. Loopback only; bounded (about 10 s).
#
#   real-service/scripts/wrk-rollout.sh on  [path/to/fleetsim-service]   # every lever on
#   real-service/scripts/wrk-rollout.sh off [path/to/fleetsim-service]   # every lever off
#
# Prints wrk's report (socket errors by kind, non-2xx responses) and the old process's exit code.
set -euo pipefail
levers=${1:?usage: wrk-rollout.sh on|off [binary]}
bin=${2:-${CARGO_TARGET_DIR:-target}/release/fleetsim-service}
for t in wrk haproxy curl python3; do
  command -v "$t" >/dev/null || { echo "wrk-rollout: $t not found (Debian packages: wrk haproxy curl python3)" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "wrk-rollout: no binary at $bin (cargo build --release -p real-service)" >&2; exit 2; }

dir=$(mktemp -d)
pids=()
cleanup() { exec 2>/dev/null; for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

env_on=(FLEETSIM_READINESS_LEVER=true FLEETSIM_PRESTOP_WAIT=1500ms FLEETSIM_DRAIN_LEVER=true
        FLEETSIM_DRAIN_TIMEOUT=3s FLEETSIM_SHUTDOWN_BUDGET=6s FLEETSIM_REQUEUE_LEVER=true
        FLEETSIM_JITTER_LEVER=true FLEETSIM_JITTER_WINDOW=1s)
start() { # name port
  if [ "$levers" = on ]; then
    env "${env_on[@]}" FLEETSIM_POD_NAME="$1" FLEETSIM_LISTEN="127.0.0.1:$2" "$bin" >"$dir/$1.out" 2>"$dir/$1.err" &
  else
    env FLEETSIM_POD_NAME="$1" FLEETSIM_LISTEN="127.0.0.1:$2" "$bin" >"$dir/$1.out" 2>"$dir/$1.err" &
  fi
  pids+=($!)
}
ready() { for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
admin() { exec 3<>"/dev/tcp/127.0.0.1/$admin_port"; echo "$1" >&3; cat <&3; exec 3<&-; }

old_port=$(free_port); new_port=$(free_port); fe_port=$(free_port); admin_port=$(free_port)
start old "$old_port"; old_pid=${pids[-1]}
start new "$new_port"
ready "$old_port"; ready "$new_port"
cat >"$dir/haproxy.cfg" <<CFG
global
  stats socket ipv4@127.0.0.1:$admin_port level admin
  maxconn 4000
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 0
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$fe_port
  default_backend be
backend be
  balance roundrobin
  server old 127.0.0.1:$old_port
  server new 127.0.0.1:$new_port disabled
CFG
haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$fe_port/healthz" && break; sleep 0.1; done

wrk -t2 -c32 -d8s --latency "http://127.0.0.1:$fe_port/work?ms=20" >"$dir/wrk.out" 2>&1 &
wrk_pid=$!
sleep 2
admin "set server be/new state ready"
sleep 1
kill -TERM "$old_pid"
t0=$(date +%s%N)
while curl -fsS "http://127.0.0.1:$old_port/readyz" >/dev/null 2>&1; do sleep 0.1; done
sleep 0.3
admin "set server be/old state maint"
echo "levers $levers: backend removed $(( ($(date +%s%N) - t0) / 1000000 )) ms after SIGTERM"
set +e
wait "$old_pid"; old_rc=$?
wait "$wrk_pid"
set -e
cat "$dir/wrk.out"
echo "levers $levers: old process exit code $old_rc"
grep '"step"' "$dir/old.out" | python3 -c 'import sys,json; [print("  ", (j:=json.loads(l))["step"], j["mono_ns"], j.get("code","")) for l in sys.stdin]'
