#!/bin/sh
# Prints the Debian packages that own the shared libraries the given binaries load (one per line,
# sorted), for the runtime stage of docker/Dockerfile. Fails when a library has no owner.
# dpkg records paths as shipped: /lib/... for some packages (usrmerge aliases), and alternatives
# such as libblas.so.3 resolve to the selected flavour's real file. Each library is therefore
# looked up as loaded, as resolved, and as resolved without the /usr prefix.
# Libraries under RUNTIME_PACKAGES_SKIP (a path prefix, e.g. /opt/) ship with the image itself.
# Libraries whose file name starts with RUNTIME_PACKAGES_UNOWNED (e.g. libcudnn) are written by a
# package's install script rather than shipped in it (nvidia-cudnn): skipped, the package that
# depends on that installer brings them.
# Usage: [RUNTIME_PACKAGES_SKIP=/opt/] [RUNTIME_PACKAGES_UNOWNED=libcudnn] runtime-packages.sh BINARY...
set -eu
skip="${RUNTIME_PACKAGES_SKIP:-}"
unowned="${RUNTIME_PACKAGES_UNOWNED:-}"
deps="$(ldd "$@")"
libs="$(printf '%s\n' "$deps" | awk -v skip="$skip" \
  '/=> \// && (skip == "" || index($3, skip) != 1) { print $3 }' | sort -u)"
owners=""
for lib in $libs; do
  if [ -n "$unowned" ]; then
    case "$(basename "$lib")" in "$unowned"*) continue ;; esac
  fi
  real="$(readlink -f "$lib")"
  owner=""
  for p in "$lib" "$real" "${real#/usr}"; do
    owner="$(dpkg-query -S "$p" 2>/dev/null | head -n1 | cut -d: -f1 | cut -d, -f1)" || true
    [ -n "$owner" ] && break
  done
  if [ -z "$owner" ]; then
    echo "runtime-packages: no Debian package owns $lib ($real)" >&2
    exit 1
  fi
  owners="$owners $owner"
done
printf '%s\n' $owners | sort -u
