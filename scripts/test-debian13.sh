#!/usr/bin/env bash
# The whole test suite on Debian 13 ("trixie": LibTorch 2.6, GCC 14, spdlog 1.15, Catch2 3), in a
# Debian 13 root on this (Debian 12) machine. Not part of the default CI run (it takes longer than
# the CI budget; README "Debian 13 job"). Run as root:
#   1. makes the root once, cached in $SHIRG_DEBIAN13_ROOT (default /var/cache/shirg/debian13,
#      outside the repository): `debootstrap --variant=minbase trixie` from the machine's own
#      Debian mirror (taken from its apt configuration, as scripts/build-image.sh does), sources
#      main contrib non-free for trixie, trixie-updates and trixie-security;
#   2. mounts /proc, /sys, /dev and this checkout (and ../shared beside it) at the same paths inside;
#   3. runs the project's own scripts/install-deps.sh inside (it reads /etc/os-release there);
#   4. builds into build-debian13/ (scripts/build.sh, -Werror) and runs every test with ctest, then
#      the no-oneDNN check (build-debian13-no-onednn/), as scripts/test.sh does on Debian 12.
# Usage: scripts/test-debian13.sh [ctest args]     the steps above (ctest args select a subset)
#        scripts/test-debian13.sh --build-only      steps 1-3 and the build
#        scripts/test-debian13.sh --exec CMD...     runs CMD inside the prepared root, in this
#                                                   checkout (e.g. build-debian13/bench/bench_stages)
# Environment: SHIRG_DEBIAN13_ROOT, SHIRG_DEBIAN_MIRROR (default: from apt), SHIRG_JOBS (default 2),
# SHIRG_DEBIAN13_REBUILD_ROOT=1 (make the root again).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/.." && pwd)"
rootfs="${SHIRG_DEBIAN13_ROOT:-/var/cache/shirg/debian13}"
build_rel="build-debian13"
jobs="${SHIRG_JOBS:-2}"
log() { echo "[test-debian13] $*"; }
if [ "$(id -u)" != "0" ]; then
  echo "[test-debian13] run as root (debootstrap, mount and chroot need it)" >&2
  exit 2
fi
mode=test
case "${1:-}" in
  --build-only) mode=build; shift ;;
  --exec) mode=exec; shift; [ $# -gt 0 ] || { echo "usage: $0 --exec CMD..." >&2; exit 2; } ;;
esac
start=$(date +%s)

# ---- 1. the Debian 13 root (once) ------------------------------------------------------------
# "SITE RELEASE" of the machine's Debian sources (bookworm and bookworm-security).
debian_site() {
  apt-get indextargets --no-release-info --format '$(SITE) $(RELEASE) $(COMPONENT) $(IDENTIFIER)' |
    awk -v rel="$1" '$2 == rel && $3 == "main" && $4 == "Packages" { print $1; exit }'
}
if [ "${SHIRG_DEBIAN13_REBUILD_ROOT:-0}" = 1 ] || [ ! -f "$rootfs/.shirg-debian13-ready" ]; then
  dpkg-query -W -f='${Status}' debootstrap 2>/dev/null | grep -q "install ok installed" ||
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; }
  mirror="${SHIRG_DEBIAN_MIRROR:-$(debian_site bookworm)}"
  security="$(debian_site bookworm-security)"
  if [ -z "$mirror" ]; then
    echo "[test-debian13] no Debian mirror in this machine's apt sources; set" \
         "SHIRG_DEBIAN_MIRROR=http://<mirror>/debian" >&2
    exit 1
  fi
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  log "debootstrap --variant=minbase trixie $rootfs from $mirror"
  debootstrap --variant=minbase --components=main,contrib,non-free trixie "$rootfs" "$mirror" \
    >"$rootfs.debootstrap.log" 2>&1 || { tail -n 30 "$rootfs.debootstrap.log" >&2; exit 1; }
  {
    echo "deb $mirror trixie main contrib non-free"
    echo "deb $mirror trixie-updates main contrib non-free"
    [ -z "$security" ] || echo "deb $security trixie-security main contrib non-free"
  } >"$rootfs/etc/apt/sources.list"
  rm -f "$rootfs"/etc/apt/sources.list.d/*
  touch "$rootfs/.shirg-debian13-ready"
  log "root made in $(( $(date +%s) - start )) s: $(grep PRETTY_NAME "$rootfs/etc/os-release")"
fi

# ---- 2. mounts (undone on exit) --------------------------------------------------------------
mounted=()
cleanup() {
  local i
  for (( i=${#mounted[@]}-1; i>=0; i-- )); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() {  # bind HOST_PATH: the same path inside the root
  mkdir -p "$rootfs$1"
  mount --bind "$1" "$rootfs$1"
  mounted+=("$rootfs$1")
}
mount -t proc proc "$rootfs/proc"; mounted+=("$rootfs/proc")
mount --rbind /sys "$rootfs/sys"; mount --make-rslave "$rootfs/sys"; mounted+=("$rootfs/sys")
mount --rbind /dev "$rootfs/dev"; mount --make-rslave "$rootfs/dev"; mounted+=("$rootfs/dev")
mount -t tmpfs tmpfs "$rootfs/tmp"; mounted+=("$rootfs/tmp")
bind "$src"
shared="$(cd "$src/.." && pwd)/shared"
[ -d "$shared" ] && bind "$shared"
# The machine's name resolution and its local CAs (a proxy's CA, where the registries are reached
# through one), as the machine itself uses them; node/npm read the bundle via NODE_EXTRA_CA_CERTS.
cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf" 2>/dev/null || true
if [ -d /usr/local/share/ca-certificates ] &&
   ! diff -rq /usr/local/share/ca-certificates "$rootfs/usr/local/share/ca-certificates" >/dev/null 2>&1; then
  mkdir -p "$rootfs/usr/local/share/ca-certificates"
  cp -a /usr/local/share/ca-certificates/. "$rootfs/usr/local/share/ca-certificates/"
  [ ! -x "$rootfs/usr/sbin/update-ca-certificates" ] || chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || true
fi
in_root() {
  chroot "$rootfs" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" CCACHE_DIR=/var/cache/ccache SHIRG_JOBS="$jobs" \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    ${CI:+CI="$CI"} bash -c 'cd "$1" && shift && "$@"' in_root "$src" "$@"
}
if [ "$mode" = exec ]; then
  in_root "$@"
  exit $?
fi

# ---- 3. dependencies: the project's own script -----------------------------------------------
in_root scripts/install-deps.sh
in_root bash -c 'command -v ccache >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ccache'
log "inside: $(in_root bash -c '. /etc/os-release; echo "$PRETTY_NAME"'), LibTorch $(in_root dpkg-query -W -f='${Version}' libtorch-dev), $(in_root bash -c 'gcc --version | head -n1')"

# ---- 4. build and test -----------------------------------------------------------------------
build_start=$(date +%s)
in_root env SHIRG_BUILD_DIR="$src/$build_rel" scripts/build.sh -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
log "build in $(( $(date +%s) - build_start )) s"
[ "$mode" = build ] && exit 0
test_start=$(date +%s)
rc=0
in_root bash -c 'cd "$1" && shift && ctest --output-on-failure --timeout 900 -j "${SHIRG_TEST_JOBS:-2}" "$@"' \
  ctest "$src/$build_rel" "$@" || rc=$?
log "ctest in $(( $(date +%s) - test_start )) s (status $rc)"
if [ "$rc" = 0 ] && [ "$#" -eq 0 ] && [ "${SHIRG_SKIP_NO_ONEDNN:-0}" != 1 ]; then
  in_root env SHIRG_BUILD_DIR="$src/$build_rel" scripts/check-no-onednn.sh || rc=$?
fi
log "total $(( $(date +%s) - start )) s, status $rc"
exit "$rc"
