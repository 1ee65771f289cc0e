#!/usr/bin/env bash
# The main job, ONE command on a fresh Debian 12 machine: install dependencies, build, start
# shirg-server on the built-in demo model (models/demo: a small LaViDa-format model TRAINED on
# synthetic charts, coloured number boxes and receipts, with its SHIRG LoRA adapter; see
# docs/demo-model.md), ask it the bundled questions with shirg-client, print each answer next to
# the expected one, stop the server.
# Usage: scripts/demo.sh [--model-dir DIR [--adapter-dir DIR]] [--image FILE --question TEXT] [--port N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SHIRG_BUILD_DIR:-$root/build}"
model_dir="$root/models/demo"
adapter_dir="$root/models/demo/shirg-lora"
samples="$root/clients/samples/demo"
image="" question="" port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --model-dir) model_dir="$2"; adapter_dir=""; shift 2 ;;
    --adapter-dir) adapter_dir="$2"; shift 2 ;;
    --image) image="$2"; shift 2 ;;
    --question) question="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if { [ -n "$image" ] && [ -z "$question" ]; } || { [ -z "$image" ] && [ -n "$question" ]; }; then
  echo "--image and --question go together" >&2; exit 2
fi

"$root/scripts/install-deps.sh" --no-npm
"$root/scripts/build.sh"
if [ -z "$port" ]; then
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi

server="$build/server/shirg-server"
client="$build/clients/shirg-client"
log="$build/demo-server.log"
args=(--model-dir "$model_dir" --host 127.0.0.1 --port "$port" --metrics-port 0)
if [ -n "$adapter_dir" ]; then args+=(--adapter-dir "$adapter_dir"); fi
echo "[demo] starting shirg-server on 127.0.0.1:$port with $model_dir ${adapter_dir:+(adapter $adapter_dir)} (log: $log)"
"$server" "${args[@]}" >"$log" 2>&1 &
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

ask() {  # ask IMAGE QUESTION [EXPECTED]
  local answer
  answer=$("$client" --addr "127.0.0.1:$port" --image "$1" --question "$2" --gen-length 8 --steps 8 --quiet)
  printf '[demo] %-28s %-40s -> %s' "$(basename "$1")" "$2" "$answer"
  if [ -n "${3:-}" ]; then
    if [ "$answer" = "$3" ]; then printf '   (expected %s: correct)\n' "$3"; else printf '   (expected %s: WRONG)\n' "$3"; fi
  else
    printf '\n'
  fi
}

if [ -n "$image" ]; then
  ask "$image" "$question"
else
  # clients/samples/demo/questions.jsonl: held-out examples of the three trained families.
  while IFS=$'\t' read -r img q expected; do
    ask "$samples/$img" "$q" "$expected"
  done < <(/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    j = json.loads(line)
    print(j["image"], j["question"], j["answer"], sep="\t")' "$samples/questions.jsonl")
fi
echo "[demo] stopping the server"
kill -TERM "$pid"
wait "$pid"
trap - EXIT
echo "[demo] server exited cleanly"
