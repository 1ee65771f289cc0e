#!/usr/bin/env bash
# The build without oneDNN (-DSHIRG_WITH_ONEDNN=OFF, what docker/Dockerfile.cuda configures): the
# engine's GEMM, attention and LLaDA code and their tests must compile with -Werror and pass with
# every LLaDA matrix plain (at::linear) and the batched matmul on at::bmm. Called by
# scripts/test.sh after the main suite (SHIRG_SKIP_NO_ONEDNN=1 skips it); ~5 minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SHIRG_NO_ONEDNN_BUILD_DIR:-${SHIRG_BUILD_DIR:-$root/build}-no-onednn}"
targets=(test_linear_weight test_batched_matmul test_attention test_cached_step_attention test_llada)
start=$(date +%s)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHIRG_WITH_ONEDNN=OFF \
  -DSHIRG_BUILD_BENCH=OFF > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "${SHIRG_JOBS:-$(nproc)}" --target "${targets[@]}"
cd "$build"
ctest --output-on-failure --timeout 900 -j "${SHIRG_TEST_JOBS:-2}" \
  -R "/($(IFS='|'; echo "${targets[*]}"))/"
echo "[check-no-onednn] $(( $(date +%s) - start )) s"
