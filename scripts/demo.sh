#!/usr/bin/env bash
# The main job, ONE command on a fresh Debian 12 machine: install dependencies, build, start
# shirg-server on the built-in demo model (models/demo: a small LaViDa-format model TRAINED on
# synthetic number boxes, bar charts and receipts, with its SHIRG LoRA adapter; see
# docs/demo-model.md), ask it the bundled held-out questions with shirg-client in the server's
# default mode (SHIRG: 64 scaffold + 1,152 selected tokens of the 672x672 view) and in
# baseline-384 (LaViDa's single 384x384 view), print each answer next to the expected one and
# the tally, stop the server.
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

# The demo model was trained on 8-token answers (generation_config.json's max_new_tokens).
ask() {  # ask IMAGE QUESTION [MODE]
  "$client" --addr "127.0.0.1:$port" --image "$1" --question "$2" --steps 8 --quiet ${3:+--mode "$3"}
}

if [ -n "$image" ]; then
  echo "[demo] $question -> $(ask "$image" "$question")"
else
  # clients/samples/demo/questions.jsonl: the first held-out examples of each trained family
  # (tools/make_demo_samples.py; never seen in training, not picked by the answers).
  right_shirg=0 right_384=0 n=0
  mark() { if [ "$1" = "$2" ]; then echo "$1 right"; else echo "$1 WRONG"; fi; }  # ANSWER EXPECTED
  printf '[demo] %-13s %-37s %-9s %-18s %s\n' image question expected "shirg (default)" baseline-384
  while IFS=$'\t' read -r img q expected; do
    a_shirg=$(ask "$samples/$img" "$q")
    a_384=$(ask "$samples/$img" "$q" baseline-384)
    [ "$a_shirg" = "$expected" ] && right_shirg=$((right_shirg + 1))
    [ "$a_384" = "$expected" ] && right_384=$((right_384 + 1))
    n=$((n + 1))
    printf '[demo] %-13s %-37s %-9s %-18s %s\n' "$img" "$q" "$expected" "$(mark "$a_shirg" "$expected")" "$(mark "$a_384" "$expected")"
  done < <(/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    j = json.loads(line)
    print(j["image"], j["question"], j["answer"], sep="\t")' "$samples/questions.jsonl")
  echo "[demo] right: shirg $right_shirg of $n, baseline-384 $right_384 of $n" \
       "(the boxes' digits are legible at 672x672 only; docs/demo-model.md has the full table)"
fi
echo "[demo] stopping the server"
kill -TERM "$pid"
wait "$pid"
trap - EXIT
