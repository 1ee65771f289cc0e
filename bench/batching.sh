#!/usr/bin/env bash
# Continuous batching, end to end: the real shirg-server with --max-batch 1 (one request at a
# time) and --max-batch B (optionally with a --schedule: "B:prefix-first", and a --max-hold-ms:
# "B:prefix-first:3000"), each loaded by
# shirg-loadtest (closed loop, GenerateStream) at every concurrency level, one server process per
# setting, all in the same run on this machine.
# Prints per setting and level: requests/s, answer tokens/s, p50/p95/p99 latency, time to the
# first step event, and the mean batch size the server's shirg_batch_size histogram saw.
#
#   bench/batching.sh [--model-dir DIR] [--batches 1,4,4:prefix-first] [--concurrency 1,2,4,8]
#                     [--requests N]
#                     [--mode shirg] [--steps 16] [--gen-length 32] [--dtype auto]
#
# Defaults: the small preset (build/models/small), 16 measured requests per level, 1 warm-up.
# Never part of the test suite (minutes of CPU).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SHIRG_BUILD_DIR:-$root/build}"
model="$build/models/small"
batches="1,4,4:prefix-first"
levels="1,2,4,8"
requests=16
mode=shirg
steps=16
gen=32
dtype=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --model-dir) model="$2"; shift 2 ;;
    --batches) batches="$2"; shift 2 ;;
    --concurrency) levels="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --mode) mode="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --gen-length) gen="$2"; shift 2 ;;
    --dtype) dtype="$2"; shift 2 ;;
    *) echo "usage: $0 [--model-dir DIR] [--batches 1,4,4:prefix-first] [--concurrency 1,2,4,8]" \
            "[--requests N]" \
            "[--mode M] [--steps N] [--gen-length N] [--dtype D]" >&2; exit 2 ;;
  esac
done
cmake --build "$build" --target shirg-server shirg-client shirg-loadtest model_small >/dev/null
out="$(mktemp -d /tmp/shirg-batching.XXXXXX)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

# shirg_batch_size_{sum,count} from /metrics.
batch_counts() {
  curl -s "http://127.0.0.1:$1/metrics" |
    awk '/^shirg_batch_size_sum/ {s=$2} /^shirg_batch_size_count/ {c=$2} END {print s+0, c+0}'
}

echo "[batching] CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "[batching] model $model, mode $mode, $steps steps, gen_length $gen, dtype $dtype," \
     "$requests requests per level"
rows="$out/rows.txt"
: >"$rows"
IFS=, read -r -a batch_list <<<"$batches"
IFS=, read -r -a level_list <<<"$levels"
for b in "${batch_list[@]}"; do
  pf="$out/ports-$b"
  max_batch="${b%%:*}"
  schedule=interleave
  hold=0
  if [ "$b" != "$max_batch" ]; then
    rest="${b#*:}"
    schedule="${rest%%:*}"
    [ "$rest" != "$schedule" ] && hold="${rest#*:}"
  fi
  "$build/server/shirg-server" --model-dir "$model" --host 127.0.0.1 --port 0 --metrics-port 0 \
    --port-file "$pf" --max-batch "$max_batch" --schedule "$schedule" --max-hold-ms "$hold" \
    --max-queue 64 --dtype "$dtype" --log-level warn \
    >"$out/server-$b.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 600); do
    if [ -s "$pf" ] && "$build/clients/shirg-client" --health \
         --addr "127.0.0.1:$(sed -n 's/^grpc=//p' "$pf")" --timeout 2 >/dev/null 2>&1; then break; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$out/server-$b.log" >&2; exit 1; }
    sleep 1
  done
  grpc="$(sed -n 's/^grpc=//p' "$pf")"
  metrics="$(sed -n 's/^metrics=//p' "$pf")"
  for c in "${level_list[@]}"; do
    read -r s0 n0 < <(batch_counts "$metrics")
    "$build/clients/shirg-loadtest" --addr "127.0.0.1:$grpc" --concurrency "$c" \
      --requests "$requests" --warmup 1 --stream --quiet --mode "$mode" --steps "$steps" \
      --gen-length "$gen" --block-length "$gen" --timeout 3600 --json "$out/b$b-c$c.json" >/dev/null
    read -r s1 n1 < <(batch_counts "$metrics")
    python3 - "$out/b$b-c$c.json" "$b" "$c" "$s0" "$n0" "$s1" "$n1" >>"$rows" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["levels"][0]
b, c = sys.argv[2], sys.argv[3]
s0, n0, s1, n1 = map(float, sys.argv[4:8])
mean_batch = (s1 - s0) / (n1 - n0) if n1 > n0 else 0.0
l, f = j["latency_ms"], j.get("first_step_ms", {})
print(b, c, j["successes"], j["requests"], j["throughput_rps"], j["tokens_per_s"], l["p50"],
      l["p95"], l["p99"], f.get("p50", -1), f.get("p95", -1), mean_batch)
PY
  done
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
done

python3 - "$rows" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
print()
print("| max batch[:schedule] | concurrency | ok | req/s | answer tok/s | p50 s | p95 s | p99 s "
      "| first step p50 s | first step p95 s | mean batch |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
by = {}
for b, c, ok, n, rps, tps, p50, p95, p99, f50, f95, mb in rows:
    by[(b, c)] = (float(rps), float(p50))
    print(f"| {b} | {c} | {ok}/{n} | {float(rps):.3f} | {float(tps):.2f} | {float(p50)/1e3:.2f} "
          f"| {float(p95)/1e3:.2f} | {float(p99)/1e3:.2f} | {float(f50)/1e3:.2f} "
          f"| {float(f95)/1e3:.2f} | {float(mb):.2f} |")
def batch_key(b):
    return (int(b.split(":")[0]), b)
base = sorted({b for b, _ in by}, key=batch_key)[0]
print()
for (b, c), (rps, p50) in sorted(by.items(), key=lambda x: (batch_key(x[0][0]), int(x[0][1]))):
    if b == base or (base, c) not in by:
        continue
    r0, p0 = by[(base, c)]
    print(f"max batch {b} vs {base} at concurrency {c}: throughput x{rps / r0:.2f}, "
          f"p50 latency x{p50 / p0:.2f}")
PY
