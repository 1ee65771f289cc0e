#!/usr/bin/env bash
# The sanitizer job: builds the project with -fsanitize=LIST in its own directory and runs tests
# there, then gives each libFuzzer target a time-boxed run (clang build of the fuzzers only).
#
#   scripts/sanitize.sh address,undefined [ctest args]   every test (the full suite)
#   scripts/sanitize.sh thread [ctest args]              the executor, batching, server and HTTP
#                                                        transport unit tests
#   scripts/test.sh --sanitize LIST [ctest args]         the same
#
# Environment: SHIRG_SANITIZE_SUBSET=unit   only tests labelled unit
#              SHIRG_SANITIZE_SUBSET=core   only the parsers of untrusted input, the engine's
#                                           units, the executor and the server (the targets in
#                                           $core_tests below: about a third of the build)
#              SHIRG_FUZZ_SECONDS=N         seconds per fuzzer (default 60; 0 skips them)
#              SHIRG_SAN_BUILD_DIR=DIR      build directory (default build-san-<LIST>)
# Sanitized binaries run 2-10x slower; the full suite takes far longer than the default CI run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
list="${1:?usage: scripts/sanitize.sh address,undefined|thread [ctest args]}"
shift
case "$list" in
  address | undefined | address,undefined | undefined,address | thread) ;;
  *) echo "sanitize.sh: LIST must be address, undefined, address,undefined or thread" >&2; exit 2 ;;
esac
build="${SHIRG_SAN_BUILD_DIR:-$root/build-san-${list//,/-}}"
jobs="${SHIRG_JOBS:-$(nproc)}"
start=$(date +%s)

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSHIRG_SANITIZE="$list" -DSHIRG_BUILD_BENCH=OFF

sup="$root/scripts/sanitizers"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$sup/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="suppressions=$sup/tsan.supp:halt_on_error=1:second_deadlock_stack=1"

ctest_args=(--output-on-failure --timeout 3600 -j "${SHIRG_TEST_JOBS:-2}")
if [[ "$list" == thread ]]; then
  # OpenMP's worker threads are invisible to TSan (uninstrumented libgomp): one intra-op thread.
  export OMP_NUM_THREADS=1
  # The engine's own threading (executor queue, prefix workers, the batching step loop, cancel,
  # shutdown) and the server's units. Not test_server_integration: a real server answers
  # through gRPC's callback threads, and Debian's libgrpc/libgrpc++ are not instrumented, so
  # every hand-off between gRPC's threads and ours (a reactor's promise, a call object gRPC
  # allocated) is reported as a race; the reports triaged on 2026-11-29 all had both stacks in
  # gRPC / OpenSSL or in a test's promise set from a gRPC callback (scripts/sanitizers/tsan.supp).
  cmake --build "$build" -j "$jobs" --target test_executor test_batching test_server_unit \
    test_http_unit model_tiny
  ctest_args+=(-R "test_executor|test_batching|test_server_unit|test_http_unit")
elif [[ "${SHIRG_SANITIZE_SUBSET:-}" == core ]]; then
  core_tests=(test_safetensors test_tokenizer_units test_vision_image test_model_config
    test_weight_binder test_kvcache test_sampler test_shirg_select test_shirg_core test_llada
    test_server_unit test_http_unit test_executor test_server_integration)
  cmake --build "$build" -j "$jobs" --target "${core_tests[@]}" shirg-server shirg-client \
    shirg-offline model_tiny
  ctest_args+=(-R "/($(IFS='|'; echo "${core_tests[*]}"))/")
elif [[ "${SHIRG_SANITIZE_SUBSET:-}" == unit ]]; then
  cmake --build "$build" -j "$jobs"
  ctest_args+=(-L unit)
else
  cmake --build "$build" -j "$jobs"
fi
(cd "$build" && ctest "${ctest_args[@]}" "$@")

# Fuzzers: libFuzzer needs clang; only their four small libraries are built.
seconds="${SHIRG_FUZZ_SECONDS:-60}"
if [[ "$seconds" != 0 ]]; then
  # clang and compiler-rt (libFuzzer) are needed by this job only (Debian 12 packages).
  need=()
  for p in clang libclang-rt-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
  fi
  fuzz="$build-fuzz"
  cmake -S "$root" -B "$fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSHIRG_BUILD_FUZZERS=ON \
    -DSHIRG_BUILD_BENCH=OFF
  cmake --build "$fuzz" -j "$jobs" --target fuzz_safetensors_header fuzz_decode fuzz_tokenizer_json \
    fuzz_http_request
  for f in tests/safetensors/fuzz_safetensors_header tests/vision/fuzz_decode \
           tests/tokenizer/fuzz_tokenizer_json tests/server/fuzz_http_request; do
    corpus="$fuzz/corpus/$(basename "$f")"
    mkdir -p "$corpus"
    # Seeds: real inputs of each format (the bundled sample images; the tiny model's
    # tokenizer.json when it was built), so mutation starts from valid files.
    case "$(basename "$f")" in
      fuzz_decode) cp "$root"/clients/samples/*.png "$root"/clients/samples/*.jpg "$corpus"/ ;;
      fuzz_tokenizer_json)
        if [ -f "$root/build/models/tiny/tokenizer.json" ]; then
          cp "$root/build/models/tiny/tokenizer.json" "$corpus/seed-tiny-tokenizer.json"
        fi ;;
      fuzz_http_request) cp "$root"/tests/server/http/fuzz_seeds/* "$corpus"/ ;;
    esac
    echo "[sanitize.sh] fuzzing $(basename "$f") for ${seconds} s"
    "$fuzz/$f" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 "$corpus"
  done
fi
echo "[sanitize.sh] $list total $(( $(date +%s) - start )) s"
