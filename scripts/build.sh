#!/usr/bin/env bash
# Configures and builds the project (our code with -Wall -Wextra -Werror) into build/.
# Usage: scripts/build.sh [extra cmake -D options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SHIRG_BUILD_DIR:-$root/build}"
jobs="${SHIRG_JOBS:-$(nproc)}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build "$build" -j "$jobs"
