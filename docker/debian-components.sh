#!/bin/sh
# Sets the components of every Debian source of the image (e.g. `main contrib non-free`): the
# official debian:13 images list them in /etc/apt/sources.list.d/debian.sources (deb822 format),
# the local base of scripts/build-image.sh in /etc/apt/sources.list (one-line format).
# Usage: debian-components.sh COMPONENT...
set -eu
[ $# -gt 0 ] || { echo "usage: $0 COMPONENT..." >&2; exit 2; }
components="$*"
found=0
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  sed -i -E "s/^Components:.*/Components: $components/" "$f"
  found=1
done
if [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list; then
  sed -i -E "s#^(deb +(\[[^]]*\] +)?[^ ]+ +[^ ]+) .*#\1 $components#" /etc/apt/sources.list
  found=1
fi
[ "$found" = 1 ] || { echo "debian-components: no apt sources found" >&2; exit 1; }
