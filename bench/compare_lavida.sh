#!/usr/bin/env bash
# Issue 16's side-by-side: runs LaViDa's original modules (../shared/bench/lavida-baseline, on a
# fetched LaViDa source) and bench_stages one after the other on this machine, in fp32 and in the
# dtype `auto` picks (bf16 only where the CPU has native bf16), then prints the ratio per stage.
#   bench/compare_lavida.sh [--reps N] [--out DIR]
# Needs: LAVIDA_GIT (a fetched jacklishufan/LaViDa git directory; the baseline's setup.sh extracts
# it) or an existing $LAVIDA_WORK/src; Debian's python3-torch; build/bench/bench_stages. Takes
# 20-40 minutes on 2 cores; never part of the test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SHIRG_BUILD_DIR:-$root/build}"
baseline="$root/../shared/bench/lavida-baseline"
reps=3
out="$build/compare-lavida"
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: $0 [--reps N] [--out DIR]" >&2; exit 2 ;;
  esac
done
export LAVIDA_WORK="${LAVIDA_WORK:-$HOME/.cache/lavida-baseline}"
if [ ! -d "$LAVIDA_WORK/src" ]; then
  [ -n "${LAVIDA_GIT:-}" ] || { echo "set LAVIDA_GIT to a fetched LaViDa git directory" >&2; exit 2; }
  bash "$baseline/setup.sh"
fi
[ -x "$build/bench/bench_stages" ] || { echo "build bench_stages first (scripts/build.sh)" >&2; exit 2; }
mkdir -p "$out"
results="$out/lavida"
rm -rf "$results" && mkdir -p "$results"
dtypes="fp32"
if grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then dtypes="bf16 fp32"; fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
work="$tmp/run"  # the baseline runs from a neutral directory (its README)
mkdir -p "$work"
# The harness's LLaDA part reads small_config.json beside its own scripts, which the shared folder
# does not ship (FileNotFoundError): run a copy of the harness with LLaDA-8B's
# architecture keys (bench/lavida_llada_config.json) as that file.
if [ ! -f "$baseline/small_config.json" ]; then
  cp -r "$baseline" "$tmp/harness"
  cp "$root/bench/lavida_llada_config.json" "$tmp/harness/small_config.json"
  baseline="$tmp/harness"
fi
for dt in $dtypes; do
  (cd "$work" &&
    /usr/bin/python3 "$baseline/bench_lavida.py" --part vision --dtype "$dt" --sizes 672x672 --tag 672 \
      --reps "$reps" --out "$results" &&
    /usr/bin/python3 "$baseline/bench_lavida.py" --part proj --dtype "$dt" --reps "$reps" --out "$results" &&
    /usr/bin/python3 "$baseline/bench_lavida.py" --part llada --dtype "$dt" --prefixes 1290,2380 \
      --reps "$reps" --out "$results")
done
"$build/bench/bench_stages" --dtypes "$(echo "$dtypes" | tr ' ' ',')" --prefixes 1290,2380 \
  --reps "$reps" --json "$out/stages.json" | tee "$out/stages.txt"
/usr/bin/python3 "$root/bench/compare_lavida.py" --ours "$out/stages.json" --lavida "$results" \
  --markdown "$out/compare.md"
