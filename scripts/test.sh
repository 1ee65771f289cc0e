#!/usr/bin/env bash
# The ONE test command: installs dependencies (idempotent), builds, and runs every test through
# ctest. Labels: unit, integration, e2e (run a subset with: scripts/test.sh -L unit).
# Extra arguments go to ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SHIRG_BUILD_DIR:-$root/build}"
start=$(date +%s)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$build"
# Each test binary sets its own threads; two tests at a time on a 2-core machine.
ctest --output-on-failure --timeout 900 -j "${SHIRG_TEST_JOBS:-2}" "$@"
echo "[test.sh] total $(( $(date +%s) - start )) s"
