#!/usr/bin/env bash
# docker/Dockerfile.cuda cannot be built here (no NVIDIA base image, no CUDA LibTorch download,
# no GPU). This runs every one of its instructions through buildah instead: both bases replaced
# by the local Debian 12 image of scripts/build-image.sh and each RUN body by a no-op that makes
# what later steps copy, so buildah parses the file AND executes every ARG/ENV/COPY/--from/
# VOLUME/USER/HEALTHCHECK/ENTRYPOINT/CMD step (buildah only rejects an unknown instruction when
# it reaches it). The RUN commands themselves stay untested. Root, buildah.
# Usage: tests/deploy/cuda_dockerfile_check.sh [BASE_IMAGE]   (default localhost/debian:12)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
base="${1:-localhost/debian:12}"
tag="localhost/shirg-cuda-instructions-check:$$"
noop="$(mktemp /tmp/Dockerfile.cuda.noop.XXXXXX)"
trap 'rm -f "$noop"; buildah rmi "$tag" >/dev/null 2>&1 || true' EXIT
/usr/bin/python3 - "$root/docker/Dockerfile.cuda" "$noop" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().replace("\\\n", " ").splitlines()
out, runs = [], 0
for l in lines:
    m = re.match(r"^RUN\s+((?:--\S+\s+)*)", l)
    if m:
        runs += 1
        l = "RUN " + m.group(1) + "mkdir -p /opt/shirg && touch /opt/shirg/runtime-packages.txt"
    out.append(l)
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("[cuda-dockerfile] %d RUN steps replaced by no-ops" % runs)
PY
buildah bud --isolation chroot --pull-never --format docker -f "$noop" \
  --build-arg CUDA_IMAGE="$base" --build-arg CUDA_RUNTIME_IMAGE="$base" -t "$tag" "$root" >"$noop.log" 2>&1 ||
  { cat "$noop.log" >&2; rm -f "$noop.log"; echo "[cuda-dockerfile] FAIL" >&2; exit 1; }
grep -E '^\[[0-9]/[0-9]\] STEP' "$noop.log" | tail -n 1
rm -f "$noop.log"
cfg="$(podman image inspect --format '{{.Config.User}} {{.Config.Entrypoint}} {{.Config.ExposedPorts}}' "$tag")"
echo "[cuda-dockerfile] every instruction ran; config: $cfg"
