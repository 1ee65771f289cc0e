#!/usr/bin/env bash
# Builds docker/Dockerfile into localhost/shirg-server:<git describe> (also tagged :latest and
# :cpu) with buildah, on a machine without a Docker engine and without access to a container
# registry (the development machines).
#   1. installs buildah, podman, debootstrap (and the CNI plugins podman expects) from Debian
#      packages (idempotent);
#   2. makes the local base image localhost/debian:12 once: `debootstrap --variant=minbase
#      bookworm` from the machine's own Debian mirror (taken from its apt configuration), with
#      the same apt sources inside, imported with `podman import`;
#   3. `buildah bud --isolation chroot` of docker/Dockerfile with DEBIAN_IMAGE / RUNTIME_IMAGE
#      pointing at that base (the Dockerfile's defaults stay the public debian:12 images).
# Run as root. The compile runs inside; run it niced on a shared machine:
#   nice -n 15 scripts/build-image.sh
# Usage: scripts/build-image.sh [--tag TAG] [--rebuild-base] [--jobs N]
# Prints the image name on the last line. Environment: SHIRG_BASE_IMAGE (default
# localhost/debian:12), SHIRG_DEBIAN_MIRROR (default: from apt), SHIRG_IMAGE_NAME
# (default localhost/shirg-server).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="${SHIRG_BASE_IMAGE:-localhost/debian:12}"
name="${SHIRG_IMAGE_NAME:-localhost/shirg-server}"
tag=""
rebuild_base=0
jobs=2
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --rebuild-base) rebuild_base=1; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    *) echo "usage: $0 [--tag TAG] [--rebuild-base] [--jobs N]" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" != "0" ]; then
  echo "[build-image] run as root (buildah with chroot isolation and debootstrap need it)" >&2
  exit 2
fi
[ -n "$tag" ] || tag="$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo latest)"
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

# ---- 2. local Debian 12 base image -----------------------------------------------------------
# The machine's Debian sources for bookworm, bookworm-updates, bookworm-security: "SITE SUITE".
debian_sources() {
  apt-get indextargets --no-release-info --format '$(SITE) $(RELEASE) $(COMPONENT) $(IDENTIFIER)' |
    awk '$3 == "main" && $4 == "Packages" && $2 ~ /^bookworm(-updates|-security)?$/ { print $1, $2 }' |
    sort -u
}
if [ "$rebuild_base" = 1 ] || ! podman image exists "$base"; then
  sources="$(debian_sources)"
  mirror="${SHIRG_DEBIAN_MIRROR:-$(awk '$2 == "bookworm" { print $1; exit }' <<<"$sources")}"
  if [ -z "$mirror" ]; then
    echo "[build-image] no Debian bookworm mirror in this machine's apt sources; set" \
         "SHIRG_DEBIAN_MIRROR=http://<mirror>/debian" >&2
    exit 1
  fi
  [ -n "$sources" ] || sources="$mirror bookworm"
  rootfs="$(mktemp -d /var/tmp/shirg-debian12.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  log "debootstrap --variant=minbase bookworm from $mirror"
  start=$(date +%s)
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
    { tail -n 30 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  # The same Debian sources as the machine (mirror, updates, security), one line each.
  awk '{ print "deb", $1, $2, "main" }' <<<"$sources" >"$rootfs/etc/apt/sources.list"
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
log "buildah bud docker/Dockerfile -> $name:$tag (jobs $jobs)"
start=$(date +%s)
buildah bud --isolation chroot --layers --format docker \
  --build-arg DEBIAN_IMAGE="$base" --build-arg RUNTIME_IMAGE="$base" --build-arg BUILD_JOBS="$jobs" \
  -f "$root/docker/Dockerfile" -t "$name:$tag" "$root"
# :latest for scripts/test-image.sh, :cpu is the name docker/compose.yaml and deploy/ use.
buildah tag "$name:$tag" "$name:latest" "$name:cpu"
size="$(podman image inspect --format '{{.Size}}' "$name:$tag")"
log "built $name:$tag in $(( $(date +%s) - start )) s, size $(( size / 1000000 )) MB"
echo "$name:$tag"
