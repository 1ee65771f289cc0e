#!/usr/bin/env bash
# The ONE test command: installs dependencies (idempotent), builds, and runs every test through
# ctest. Labels: unit, integration, e2e (run a subset with: scripts/test.sh -L unit).
# Extra arguments go to ctest. Without them, scripts/check-no-onednn.sh then builds and runs the
# GEMM/attention/LLaDA tests without oneDNN (SHIRG_SKIP_NO_ONEDNN=1 skips that).
# SHIRG_IMAGE_TESTS=1 also builds the container image (scripts/build-image.sh, root, buildah;
# tens of minutes, see docs/deploy.md) and runs the image tests (ctest -R image);
# SHIRG_CUDA_IMAGE_TESTS=1 the same for the CUDA image (scripts/build-image.sh --cuda).
# scripts/test.sh --sanitize address,undefined|thread [ctest args]: the sanitizer job
# (scripts/sanitize.sh: its own build directory, then time-boxed fuzzer runs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ "${1:-}" == --sanitize ]]; then
  "$root/scripts/install-deps.sh"
  exec "$root/scripts/sanitize.sh" "${2:?--sanitize needs a list}" "${@:3}"
fi
if [[ "${1:-}" == --sanitize=* ]]; then
  "$root/scripts/install-deps.sh"
  exec "$root/scripts/sanitize.sh" "${1#--sanitize=}" "${@:2}"
fi
build="${SHIRG_BUILD_DIR:-$root/build}"
start=$(date +%s)
image_tests=OFF cuda_image_tests=OFF
if [ "${SHIRG_IMAGE_TESTS:-0}" = 1 ]; then image_tests=ON; fi
if [ "${SHIRG_CUDA_IMAGE_TESTS:-0}" = 1 ]; then cuda_image_tests=ON; fi
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" -DSHIRG_IMAGE_TESTS="$image_tests" -DSHIRG_CUDA_IMAGE_TESTS="$cuda_image_tests"
if [ "$image_tests" = ON ]; then
  image_start=$(date +%s)
  "$root/scripts/build-image.sh"
  echo "[test.sh] image built in $(( $(date +%s) - image_start )) s"
fi
if [ "$cuda_image_tests" = ON ]; then
  image_start=$(date +%s)
  "$root/scripts/build-image.sh" --cuda
  echo "[test.sh] CUDA image built in $(( $(date +%s) - image_start )) s"
fi
cd "$build"
# Each test binary sets its own threads; two tests at a time on a 2-core machine.
ctest --output-on-failure --timeout 900 -j "${SHIRG_TEST_JOBS:-2}" "$@"
# The same engine code built without oneDNN (the CUDA image's configuration), unless skipped or
# a subset was asked for.
if [ "${SHIRG_SKIP_NO_ONEDNN:-0}" != 1 ] && [ "$#" -eq 0 ]; then
  "$root/scripts/check-no-onednn.sh"
fi
echo "[test.sh] total $(( $(date +%s) - start )) s"
