#!/usr/bin/env bash
# LibTorch 1.13 (Debian 12, this machine's build/) against LibTorch 2.6 (Debian 13, the root of
# scripts/test-debian13.sh and its build-debian13/), on the product's path, in one run on this
# machine: bench_pipeline (the design's baseline-384 / full-672 / SHIRG requests) on the same
# checkpoint, the two builds alternating round by round so that both see the same machine load.
# Prints the CPU and, per round and build, bench_pipeline's table; then one summary line per mode
# and build (median over the rounds of each mode's total).
#   bench/libtorch_versions.sh [--rounds 2] [--reps 3] [--model-dir DIR] [--dtype auto]
#                              [--bench bench_pipeline-args...]
# Needs both builds (scripts/build.sh; scripts/test-debian13.sh --build-only). Root (chroot).
# Minutes of CPU; never part of the test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="$root/build/models/small"
rounds=2 reps=3 dtype=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --model-dir) model="$2"; shift 2 ;;
    --dtype) dtype="$2"; shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--reps N] [--model-dir DIR] [--dtype auto|bf16|fp32]" >&2; exit 2 ;;
  esac
done
for b in "$root/build/bench/bench_pipeline" "$root/build-debian13/bench/bench_pipeline"; do
  [ -x "$b" ] || { echo "[libtorch-versions] missing $b (build it first)" >&2; exit 1; }
done
out="$(mktemp -d /tmp/shirg-libtorch-versions.XXXXXX)"
trap 'rm -rf "$out"' EXIT
echo "[libtorch-versions] CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores;" \
     "model $model, dtype $dtype, $reps reps per mode, $rounds rounds"
args=(--model-dir "$model" --dtype "$dtype" --reps "$reps")
for r in $(seq 1 "$rounds"); do
  echo "== round $r: LibTorch 1.13 (Debian 12 host, build/)"
  "$root/build/bench/bench_pipeline" "${args[@]}" | tee "$out/1.13-$r.txt"
  echo "== round $r: LibTorch 2.6 (Debian 13 root, build-debian13/)"
  "$root/scripts/test-debian13.sh" --exec build-debian13/bench/bench_pipeline "${args[@]}" |
    tee "$out/2.6-$r.txt"
done
echo "== summary: median over $rounds rounds of each mode's total ms (bench_pipeline's median of $reps)"
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
cols = None
for v in ("1.13", "2.6"):
    per_mode = {}
    for r in range(1, rounds + 1):
        for line in open(f"{out}/{v}-{r}.txt"):
            if line.startswith("mode "):
                cols = line.split()
            m = re.match(r"^(baseline-384|full-672|shirg)\s", line)
            if m and cols:
                vals = {}
                for k, x in zip(cols, line.split()):
                    vals.setdefault(k, x)  # the header repeats "total" ("total ms", "total min-max")
                per_mode.setdefault(m.group(1), []).append(vals)
    for mode, rows in per_mode.items():
        med = {k: statistics.median(float(r[k]) for r in rows)
               for k in ("vision", "select", "prefill", "steps", "total") if k in rows[0]}
        print(f"LibTorch {v:5} {mode:13} vision {med.get('vision', 0):8.1f}  select {med.get('select', 0):8.1f}"
              f"  prefill {med.get('prefill', 0):8.1f}"
              f"  steps {med.get('steps', 0):8.1f}  total {med.get('total', 0):8.1f} ms")
PY
