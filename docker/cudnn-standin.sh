#!/bin/sh
# Installs a STAND-IN for Debian's nvidia-cudnn package: an empty package of the same name and
# version, so that libtorch-cuda (which depends on nvidia-cudnn) installs without network access
# to NVIDIA. The real nvidia-cudnn is an installer that downloads cuDNN 9 from NVIDIA when it is
# configured; the stand-in installs nothing, so libcudnn.so.9 is ABSENT and LibTorch's CUDA code
# cannot be loaded until the real cuDNN is there. For builds on machines that reach only the Debian
# mirror (scripts/build-image.sh --cuda); a build with internet uses the real package instead.
# Usage: cudnn-standin.sh   (as root, apt lists present)
set -eu
version="$(apt-cache policy nvidia-cudnn | awk '/Candidate:/ { print $2 }')"
[ -n "$version" ] && [ "$version" != "(none)" ] ||
  { echo "cudnn-standin: no nvidia-cudnn candidate (contrib/non-free sources?)" >&2; exit 1; }
dir="$(mktemp -d)"
mkdir -p "$dir/pkg/DEBIAN" "$dir/pkg/usr/share/doc/nvidia-cudnn"
cat >"$dir/pkg/DEBIAN/control" <<CONTROL
Package: nvidia-cudnn
Version: $version
Architecture: $(dpkg --print-architecture)
Maintainer: shirg-server build <nobody@localhost>
Section: contrib/libs
Priority: optional
Description: STAND-IN for nvidia-cudnn (installs no cuDNN)
 Made by docker/cudnn-standin.sh so that libtorch-cuda installs offline.
 libcudnn.so.9 is not installed; install the real nvidia-cudnn for a working GPU image.
CONTROL
echo "STAND-IN: this nvidia-cudnn package installs no cuDNN (docker/cudnn-standin.sh)" \
  >"$dir/pkg/usr/share/doc/nvidia-cudnn/STAND-IN"
dpkg-deb --root-owner-group --build "$dir/pkg" "$dir/nvidia-cudnn-standin.deb" >/dev/null
dpkg -i "$dir/nvidia-cudnn-standin.deb" >/dev/null
rm -rf "$dir"
echo "cudnn-standin: installed a STAND-IN nvidia-cudnn $version (no libcudnn.so.9)"
