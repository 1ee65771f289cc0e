#!/usr/bin/env bash
# The ONE test command: installs dependencies (idempotent), builds, and runs every test through
# ctest. Labels: unit, integration, e2e (run a subset with: scripts/test.sh -L unit).
# Extra arguments go to ctest.
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
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$build"
# Each test binary sets its own threads; two tests at a time on a 2-core machine.
ctest --output-on-failure --timeout 900 -j "${SHIRG_TEST_JOBS:-2}" "$@"
echo "[test.sh] total $(( $(date +%s) - start )) s"
