#!/usr/bin/env bash
# The main job, ONE command on a fresh Debian 12 machine: install dependencies, build, write the
# built-in demo model (small preset, RANDOM weights), start shirg-server on it, send a bundled
# sample image and question with shirg-client, print the answer, stop the server.
# Usage: scripts/demo.sh [--model-dir DIR] [--image FILE] [--question TEXT] [--port N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SHIRG_BUILD_DIR:-$root/build}"
model_dir="$build/models/small"
image="$root/clients/samples/bar_chart.png"
question="What is the title of the chart?"
port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --model-dir) model_dir="$2"; shift 2 ;;
    --image) image="$2"; shift 2 ;;
    --question) question="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

"$root/scripts/install-deps.sh" --no-npm
"$root/scripts/build.sh"
if [ "$model_dir" = "$build/models/small" ]; then
  cmake --build "$build" --target model_small   # the demo model, written once
fi
if [ -z "$port" ]; then
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi

server="$build/server/shirg-server"
client="$build/clients/shirg-client"
log="$build/demo-server.log"
echo "[demo] starting shirg-server on 127.0.0.1:$port with $model_dir (log: $log)"
"$server" --model-dir "$model_dir" --host 127.0.0.1 --port "$port" --metrics-port 0 >"$log" 2>&1 &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap cleanup EXIT

# Wait (bounded) until health says SERVING: the model is loaded and a warm-up request ran.
for _ in $(seq 1 240); do
  if "$client" --addr "127.0.0.1:$port" --health >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "[demo] server exited:"; cat "$log"; exit 1; fi
  sleep 0.5
done
"$client" --addr "127.0.0.1:$port" --health

echo "[demo] question: $question"
echo "[demo] image:    $image"
"$client" --addr "127.0.0.1:$port" --image "$image" --question "$question" --json
echo "[demo] the demo model has RANDOM weights: the answer is meaningless by construction."
echo "[demo] stopping the server"
kill -TERM "$pid"
wait "$pid"
trap - EXIT
echo "[demo] server exited cleanly"
