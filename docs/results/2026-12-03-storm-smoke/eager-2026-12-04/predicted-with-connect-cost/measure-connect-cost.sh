#!/usr/bin/env bash
# The generator's eager reopen rate on loopback (README.md here). From the repository root:
#   nice -n 19 cargo build --release -p loadgen --example trivial-server --example connect-burst
#   docs/results/2026-12-03-storm-smoke/eager-2026-12-04/predicted-with-connect-cost/measure-connect-cost.sh PORT [N] [BURSTS]
# Starts the trivial server on 127.0.0.1:PORT (refuses a port in use), runs BURSTS bursts of N
# reopens through the generator's own reopen path (loadgen::connect_bursts), prints the table and
# the listen-queue overflows the kernel counted meanwhile, and stops the server.
set -euo pipefail
PORT=$1; N=${2:-2000}; B=${3:-9}
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
EX=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples
if ss -ltnH "sport = :$PORT" | grep -q .; then echo "port $PORT is in use: refusing" >&2; exit 2; fi
nice -n 19 "$EX/trivial-server" "127.0.0.1:$PORT" 2>/dev/null &
SPID=$!
trap 'kill $SPID 2>/dev/null; wait $SPID 2>/dev/null || true' EXIT
sleep 0.5
O1=$(nstat -az TcpExtListenOverflows | awk '/Overflows/{print $2}')
nice -n 19 "$EX/connect-burst" "http://127.0.0.1:$PORT/" "$N" "$B" "${TMPDIR:-/tmp}/connect-burst.ndjson"
O2=$(nstat -az TcpExtListenOverflows | awk '/Overflows/{print $2}')
echo "listen overflows during the run: $((O2 - O1))"
