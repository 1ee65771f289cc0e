#!/usr/bin/env bash
# The one GPU check (docs/benchmarks.md "On a GPU"): prepared here, run once on a GPU machine.
#
#   scripts/gpu-check.sh --prepare           on a development machine (Debian 12, network to the
#                                            Debian registry): puts what the run needs beyond the
#                                            working tree into out/gpu-check/ (ignored by git;
#                                            carry it): Debian .debs of the engine's small
#                                            dependencies and LaViDa's source (for its own timing)
#   scripts/gpu-check.sh [--out DIR] [--build DIR] [--device cuda] [--small] [--skip-lavida]
#                        [--jobs N]
#                                            on the GPU machine: builds, tests, measures, prints one
#                                            table, exits non-zero on any mismatch
#
# What the run does (each step's log in $OUT/<step>.log, the table in $OUT/summary.md):
#   1. builds the engine without gRPC (-DSHIRG_ENGINE_ONLY=ON, -DSHIRG_WITH_CUDA=ON, oneDNN off)
#      against the LibTorch inside Python's torch wheel (python3 -c 'import torch;
#      print(torch.utils.cmake_prefix_path)'), the small dependencies from out/gpu-check/debs;
#   2. the engine tests with the generic side on the device (SHIRG_TEST_DEVICE): the generic path
#      on the GPU against the CPU's specialised kernels on one checkpoint (visual tokens, prefix,
#      cache, every step's logits, answer ids; fp32 within 1e-3), and the attention tests;
#   3. the full LaViDa-8B shape (bf16, ~16 GB): a checkpoint of zeros written in seconds
#      (shirg-make-checkpoint --zeros), random weights drawn on the device
#      (bench_pipeline --randomize-weights): baseline-384, full-672 and SHIRG requests of 16
#      steps (vision, selection, prefill, steps, total, peak device memory), then 1/2/4/8
#      concurrent SHIRG requests through the batched step;
#   4. LaViDa's own code on the same shapes and device (bench/gpu/lavida_gpu.py).
# Nothing here depends on the GPU machine's paths beyond the torch wheel, python3 and nvcc.
# --small: a real-dims checkpoint with 2 LLaDA / 2 SigLIP layers instead of the full depth (a
# dry run of every step; on the CPU: --device cpu --small --skip-lavida). Environment:
# SHIRG_GPU_CHECK_BUILD_TYPE (default Release), SHIRG_GPU_CHECK_WERROR (default OFF).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
prep="$root/out/gpu-check"

prepare() {
  mkdir -p "$prep/debs"
  # The engine's dependencies that a machine with only a LibTorch lacks: headers and small
  # shared libraries, unpacked into a prefix at run time (dpkg -x, no root, no apt).
  local pkgs=(nlohmann-json3-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 catch2
              libturbojpeg0-dev libturbojpeg0 libspng-dev libspng0 libpcre2-dev libpcre2-8-0
              libpcre2-16-0 libpcre2-32-0 libpcre2-posix3 libutf8proc-dev libutf8proc2
              pkgconf pkgconf-bin libpkgconf3 ninja-build)
  (cd "$prep/debs" && apt-get download "${pkgs[@]}")
  bash "$root/bench/gpu/prepare_lavida.sh" "$prep/lavida"
  du -sh "$prep" "$prep"/* | sed 's/^/[gpu-check] /'
  echo "[gpu-check] prepared $prep: carry out/gpu-check with the run (under 64 MiB)"
}

out="${OUT:-$root/out/gpu-check/run}"
device=cuda
small=0
skip_lavida=0
jobs="$(nproc)"
build=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare) prepare; exit 0 ;;
    --out) out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --small) small=1; shift ;;
    --skip-lavida) skip_lavida=1; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    *) echo "usage: $0 --prepare | [--out DIR] [--device cuda] [--small] [--skip-lavida]" >&2
       exit 2 ;;
  esac
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
build="${build:-$out/build}"
summary="$out/summary.md"
: > "$summary"
failures=0
note() { echo "$*" | tee -a "$summary"; }
step() {  # step NAME COMMAND...: runs it with its log in $out/NAME.log; a failure is counted
  local name="$1"; shift
  local t0; t0=$(date +%s)
  echo "[gpu-check] $name ..."
  if "$@" > "$out/$name.log" 2>&1; then
    note "| $name | ok | $(( $(date +%s) - t0 )) s |"
  else
    failures=$((failures + 1))
    note "| $name | FAILED (exit $?, see $name.log) | $(( $(date +%s) - t0 )) s |"
    tail -n 30 "$out/$name.log"
  fi
}

# ---- 1. build ---------------------------------------------------------------------------------
deps="$out/deps"
unpack_deps() {
  rm -rf "$deps"
  mkdir -p "$deps"
  for d in "$prep"/debs/*.deb; do dpkg-deb -x "$d" "$deps"; done
  # The .pc and CMake files name /usr: point them at the unpacked prefix.
  grep -rlI '^prefix=/usr' "$deps/usr/lib" "$deps/usr/share" 2>/dev/null |
    xargs -r sed -i "s|^prefix=/usr|prefix=$deps/usr|"
}
torch_prefix() { python3 -c 'import torch; print(torch.utils.cmake_prefix_path)'; }
# A CUDA LibTorch's CMake config looks for the CUDA toolkit (nvcc) on PATH.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="$PATH:/usr/local/cuda/bin"
fi
configure_and_build() {
  local arch multi
  multi="$(ls -d "$deps"/usr/lib/*-linux-gnu 2>/dev/null | head -n 1)"
  export PATH="$deps/usr/bin:$PATH"
  export PKG_CONFIG_PATH="$multi/pkgconfig:$deps/usr/share/pkgconfig:$deps/usr/lib/pkgconfig"
  export LD_LIBRARY_PATH="$multi${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  arch=()
  [ "$device" = cpu ] || arch=(-DSHIRG_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90)
  cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE="${SHIRG_GPU_CHECK_BUILD_TYPE:-Release}" -DSHIRG_ENGINE_ONLY=ON \
    -DSHIRG_WITH_ONEDNN=OFF -DSHIRG_WERROR="${SHIRG_GPU_CHECK_WERROR:-OFF}" "${arch[@]}" \
    -DCMAKE_PREFIX_PATH="$(torch_prefix);$deps/usr;$multi/cmake" \
    -DCMAKE_LIBRARY_PATH="$multi" -DCMAKE_INCLUDE_PATH="$deps/usr/include"
  cmake --build "$build" -j "$jobs" --target shirg-offline shirg-make-checkpoint \
    bench_pipeline model_tiny test_generic_kernels test_attention test_llada test_pipeline
}
if [ -d "$prep/debs" ]; then
  step unpack-deps unpack_deps
  multi="$(ls -d "$deps"/usr/lib/*-linux-gnu 2>/dev/null | head -n 1)"
  export LD_LIBRARY_PATH="$multi${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PATH="$deps/usr/bin:$PATH"
fi
note "# gpu-check $(date -u +%FT%TZ) on $device"
note ""
note "| step | result | time |"
note "|---|---|---|"
step build configure_and_build
bin="$build"

# ---- 2. engine tests: the generic path on the device against the CPU's kernels ---------------
run_tests() {
  cd "$bin"
  SHIRG_TEST_DEVICE="$device" ctest --output-on-failure --timeout 300 \
    -R '(test_generic_kernels|test_attention|test_llada|test_pipeline)/'
}
step engine-tests run_tests

# ---- 3. the LaViDa-8B shape: baseline-384, full-672, SHIRG, then concurrency -----------------
ckpt="$out/ckpt-real-dims"
write_ckpt() {
  rm -rf "$ckpt"
  local depth=()
  [ "$small" = 1 ] && depth=(--layers 2 --vision-layers 2)
  "$bin/tools/model_writer/shirg-make-checkpoint" --preset real-dims --out "$ckpt" --zeros \
    --shards 4 "${depth[@]}"
}
step checkpoint write_ckpt
requests() {
  "$bin/bench/bench_pipeline" --model-dir "$ckpt" --device "$device" --randomize-weights \
    --modes baseline-384,full-672,shirg --reps 3 --warmup 1 --steps 16 --gen-length 32 \
    --concurrency 1,2,4,8
}
step requests requests

# ---- 4. LaViDa's own code on the same device and shapes --------------------------------------
lavida() {
  local small_arg=()
  [ "$small" = 1 ] && small_arg=(--layers 2 --vision-layers 2)
  python3 "$root/bench/gpu/lavida_gpu.py" --lavida-src "$prep/lavida" --device "$device" \
    --dtype bf16 --steps 16 --gen-length 32 --reps 3 --json "$out/lavida.json" "${small_arg[@]}"
}
if [ "$skip_lavida" = 0 ]; then step lavida lavida; fi

# ---- the table -------------------------------------------------------------------------------
note ""
note "## Requests (bench_pipeline, $device)"
note '```'
sed -n '/^mode /,/^(peak MiB/p;/^Concurrent/,/^$/p;/^device memory/p' "$out/requests.log" |
  tee -a "$summary"
note '```'
if [ -f "$out/lavida.log" ]; then
  note "## LaViDa's own code (bench/gpu/lavida_gpu.py)"
  note '```'
  tail -n 25 "$out/lavida.log" | tee -a "$summary"
  note '```'
fi
note ""
note "failed steps: $failures"
[ "$failures" = 0 ]
