#!/usr/bin/env bash
# Builds docker/Dockerfile into localhost/shirg-server:<git describe> (also tagged :latest and
# :cpu) with buildah, on a machine without a Docker engine and without access to a container
# registry (the development machines). With --cuda: docker/Dockerfile.cuda (Debian 13, Debian's
# CUDA LibTorch) into localhost/shirg-server:<git describe>-cuda (also tagged :cuda).
#   1. installs buildah, podman, debootstrap (and the CNI plugins podman expects) from Debian
#      packages (idempotent);
#   2. makes the local base image once: localhost/debian:12 by `debootstrap --variant=minbase
#      bookworm` (with --cuda: localhost/debian:13, trixie with main contrib non-free) from the
#      machine's own Debian mirror (taken from its apt configuration), with the same apt sources
#      inside, imported with `podman import`;
#   3. `buildah bud --isolation chroot` of the Dockerfile with DEBIAN_IMAGE / RUNTIME_IMAGE
#      pointing at that base (the Dockerfiles' defaults stay the public debian images).
# --cuda builds offline with CUDNN=standin (docker/cudnn-standin.sh; said in the log): Debian's
# nvidia-cudnn downloads cuDNN from NVIDIA, which these machines cannot reach. The image then has
# no libcudnn.so.9 (scripts/test-image.sh lends a stub for its run). SHIRG_CUDNN=nvidia builds
# with the real cuDNN where the build can reach NVIDIA.
# Run as root. The compile runs inside; run it niced on a shared machine:
#   nice -n 15 scripts/build-image.sh [--cuda]
# Usage: scripts/build-image.sh [--cuda] [--tag TAG] [--rebuild-base] [--jobs N]
# Prints the image name on the last line. Environment: SHIRG_BASE_IMAGE (default
# localhost/debian:12, with --cuda localhost/debian:13), SHIRG_DEBIAN_MIRROR (default: from apt),
# SHIRG_IMAGE_NAME (default localhost/shirg-server), SHIRG_CUDNN (--cuda: standin | nvidia).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="${SHIRG_IMAGE_NAME:-localhost/shirg-server}"
tag=""
rebuild_base=0
jobs=2
cuda=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cuda) cuda=1; shift ;;
    --tag) tag="$2"; shift 2 ;;
    --rebuild-base) rebuild_base=1; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    *) echo "usage: $0 [--cuda] [--tag TAG] [--rebuild-base] [--jobs N]" >&2; exit 2 ;;
  esac
done
if [ "$cuda" = 1 ]; then
  suite=trixie components="main contrib non-free" dockerfile=docker/Dockerfile.cuda
  base="${SHIRG_BASE_IMAGE:-localhost/debian:13}"
else
  suite=bookworm components=main dockerfile=docker/Dockerfile
  base="${SHIRG_BASE_IMAGE:-localhost/debian:12}"
fi
if [ "$(id -u)" != "0" ]; then
  echo "[build-image] run as root (buildah with chroot isolation and debootstrap need it)" >&2
  exit 2
fi
[ -n "$tag" ] || tag="$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo latest)"
[ "$cuda" = 0 ] || tag="${tag%-cuda}-cuda"
log() { echo "[build-image] $*"; }

# ---- 1. tools --------------------------------------------------------------------------------
missing=()
for p in buildah podman debootstrap containernetworking-plugins; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# ---- 2. local Debian base image --------------------------------------------------------------
# The machine's Debian sites for bookworm, bookworm-updates, bookworm-security, as "SITE SUITE"
# with the suite renamed to $suite (the same sites serve Debian 13).
debian_sources() {
  apt-get indextargets --no-release-info --format '$(SITE) $(RELEASE) $(COMPONENT) $(IDENTIFIER)' |
    awk '$3 == "main" && $4 == "Packages" && $2 ~ /^bookworm(-updates|-security)?$/ { print $1, $2 }' |
    sed "s/ bookworm/ $suite/" | sort -u
}
if [ "$rebuild_base" = 1 ] || ! podman image exists "$base"; then
  sources="$(debian_sources)"
  mirror="${SHIRG_DEBIAN_MIRROR:-$(awk -v s="$suite" '$2 == s { print $1; exit }' <<<"$sources")}"
  if [ -z "$mirror" ]; then
    echo "[build-image] no Debian mirror in this machine's apt sources; set" \
         "SHIRG_DEBIAN_MIRROR=http://<mirror>/debian" >&2
    exit 1
  fi
  [ -n "$sources" ] || sources="$mirror $suite"
  rootfs="$(mktemp -d "/var/tmp/shirg-$suite.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  log "debootstrap --variant=minbase $suite ($components) from $mirror"
  start=$(date +%s)
  debootstrap --variant=minbase --components="${components// /,}" "$suite" "$rootfs" "$mirror" \
    >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  # The same Debian sources as the machine (mirror, updates, security), one line each.
  awk -v c="$components" '{ print "deb", $1, $2, c }' <<<"$sources" >"$rootfs/etc/apt/sources.list"
  rm -f "$rootfs"/etc/apt/sources.list.d/*
  # Like the official slim images: no documentation, no apt caches.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/excludes" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
  echo 'Binary::apt::APT::Keep-Downloaded-Packages "false";' >"$rootfs/etc/apt/apt.conf.d/docker-clean"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  log "base image $base made in $(( $(date +%s) - start )) s: $(sed 's/^/deb /; s/$/;/' <<<"$sources" | tr '\n' ' ')"
else
  log "base image $base present (--rebuild-base to make it again)"
fi

# ---- 3. the image ----------------------------------------------------------------------------
# --format docker keeps HEALTHCHECK (the OCI format has no field for it); --layers caches steps.
extra=()
if [ "$cuda" = 1 ]; then
  cudnn="${SHIRG_CUDNN:-standin}"
  case "$cudnn" in
    standin) log "OFFLINE BUILD: CUDNN=standin: an empty stand-in for Debian's nvidia-cudnn" \
                 "(docker/cudnn-standin.sh); the image has NO libcudnn.so.9 and needs the real" \
                 "cuDNN to run (build with SHIRG_CUDNN=nvidia where NVIDIA is reachable)" ;;
    nvidia) log "CUDNN=nvidia: Debian's nvidia-cudnn downloads cuDNN from NVIDIA during the build" ;;
    *) echo "[build-image] SHIRG_CUDNN must be standin or nvidia" >&2; exit 2 ;;
  esac
  extra+=(--build-arg CUDNN="$cudnn")
fi
log "buildah bud $dockerfile -> $name:$tag (jobs $jobs)"
start=$(date +%s)
buildah bud --isolation chroot --layers --format docker \
  --build-arg DEBIAN_IMAGE="$base" --build-arg RUNTIME_IMAGE="$base" --build-arg BUILD_JOBS="$jobs" \
  "${extra[@]}" -f "$root/$dockerfile" -t "$name:$tag" "$root"
# :latest (CPU) for scripts/test-image.sh; :cpu and :cuda are the names docker/compose.yaml and
# deploy/ use.
if [ "$cuda" = 1 ]; then
  buildah tag "$name:$tag" "$name:cuda"
else
  buildah tag "$name:$tag" "$name:latest" "$name:cpu"
fi
size="$(podman image inspect --format '{{.Size}}' "$name:$tag")"
log "built $name:$tag in $(( $(date +%s) - start )) s, size $(( size / 1000000 )) MB"
echo "$name:$tag"
