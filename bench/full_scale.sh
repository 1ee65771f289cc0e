#!/usr/bin/env bash
# Full scale, no extrapolation: the real LaViDa-8B shape (LLaDA 32 blocks at 4096 wide, vocab
# 126,464; SigLIP so400m, 26 encoder layers in the checkpoint = the 26 LaViDa uses; bf16, 4 shards,
# about 17 GB) is written once (cached: it is reused while its .complete marker exists), then
# bench_pipeline loads it through the normal loader and runs baseline-384, full-672 and SHIRG once
# each (16 steps, gen_length 32, no warm-up run). With --extrapolate, the 1- and 2-layer
# checkpoints of the same widths are measured in the same run and extrapolated to 32 layers, for
# comparison with the full-depth figures.
#
#   bench/full_scale.sh [--extrapolate] [bench_pipeline args, e.g. --dtype fp32 --llm-weights bf16]
#
# Environment: SHIRG_FULL_SCALE_DIR (default build/models/real-dims-full), SHIRG_BUILD_DIR.
# Needs about 17 GB of disk, the weights' size of free memory in the compute dtype (bf16: ~16 GiB;
# fp32 compute with --llm-weights bf16: ~17.5 GiB) and tens of minutes on a 2-core CPU.
# Never part of the test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SHIRG_BUILD_DIR:-$root/build}"
dir="${SHIRG_FULL_SCALE_DIR:-$build/models/real-dims-full}"
extrapolate=0
if [[ "${1:-}" == --extrapolate ]]; then
  extrapolate=1
  shift
fi

cmake --build "$build" --target shirg-make-checkpoint bench_pipeline >/dev/null
if [ ! -f "$dir/.complete" ]; then
  rm -rf "$dir"
  echo "[full_scale] writing the full-shape checkpoint to $dir"
  /usr/bin/time -f "[full_scale] writer: %e s wall, %U s user, peak RSS %M KiB" \
    "$build/tools/model_writer/shirg-make-checkpoint" --preset real-dims --layers 32 \
    --vision-layers 26 --shards 4 --seed 7 --out "$dir"
  touch "$dir/.complete"
fi
du -sh "$dir"
echo "[full_scale] full depth, one request per mode"
/usr/bin/time -f "[full_scale] bench: %e s wall, peak RSS %M KiB" \
  "$build/bench/bench_pipeline" --model-dir "$dir" --warmup 0 --reps 1 --steps 16 "$@"
if [ "$extrapolate" = 1 ]; then
  cmake --build "$build" --target model_real_dims model_real_dims_1l >/dev/null
  echo "[full_scale] the same widths at 2 and 1 layers, extrapolated to 32"
  "$build/bench/bench_pipeline" --model-dir "$build/models/real-dims-2l" \
    --shallow-model-dir "$build/models/real-dims-1l" --layers-real 32 --vision-layers-real 26 \
    --reps 1 --warmup 1 --steps 16 "$@"
fi
