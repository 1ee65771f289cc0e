#!/usr/bin/env bash
# The HTTP edge's goals (docs/server.md "HTTP transport limits"): starts a shirg-server with
# the tiny model and runs bench_http_edge against it.
#   bench/http_edge.sh [SERVER_BINARY]     default: build/server/shirg-server
# 1. hostile: one hostile request per row (the server has --auth-token; the requests carry it
#    unless the row says "no token"): answer, resident memory growth at peak and 2 s after.
# 2. slow: 64 slow connections, every inference slot busy (--max-batch 4, --max-queue 16):
#    GET /health latency over 100 probes, a new chat request queued or 429, nothing lost.
# Memory: the server peaks near 1 GiB with the tiny model (more with a server that buffers
# hostile bodies without a limit: up to ~2.5 GiB was seen with cpp-httplib).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
server="${1:-$root/build/server/shirg-server}"
bench="$root/build/bench/bench_http_edge"
model="$root/build/models/tiny"
dir="$(mktemp -d)"
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$dir"; }
trap cleanup EXIT
start() {
  "$server" --model-dir "$model" --host 127.0.0.1 --port 0 --metrics-port 0 --http-port 0 \
    --port-file "$dir/ports" --threads 1 "$@" > "$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    if grep -q '^http=' "$dir/ports" 2>/dev/null && grep -q SERVING "$dir/server.log"; then return; fi
    sleep 0.1
  done
  echo "server did not start:"; cat "$dir/server.log"; exit 1
}
stop() { kill "$pid"; wait "$pid" || true; pid=""; rm -f "$dir/ports"; }
port() { grep "^$1=" "$dir/ports" | cut -d= -f2; }

echo "CPU: $(lscpu | grep 'Model name' | sed 's/Model name: *//')"
echo "server: $server"
echo
start --auth-token tok3n
"$bench" hostile --port "$(port http)" --pid "$pid" --token tok3n
stop
echo
start --max-batch 4 --max-queue 16
"$bench" slow --port "$(port http)" --metrics-port "$(port metrics)" --slots 4 --slow 64 \
  --probes 100 --image "$root/clients/samples/bar_chart.png"
stop
