#!/usr/bin/env bash
# Print the path of a kernel image for the test VM: Debian's cloud kernel
# package, downloaded and unpacked with dpkg -x (not installed) into a cache
# directory, so the host's /boot is never touched.
#
#   tests/vm/kernel.sh [CACHE-DIR]   (default: target/vm-kernel of the workspace)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-$here/../../target/vm-kernel}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
found=$(find "$cache" -path '*/boot/vmlinuz-*' 2>/dev/null | sort -V | tail -n 1)
if [ -n "$found" ]; then
    echo "$found"
    exit 0
fi
package() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        awk '/Depends: linux-image-/ { print $2; exit }'
}
name=$(package)
if [ -z "$name" ]; then
    apt-get update -qq >&2
    name=$(package)
fi
[ -n "$name" ] || { echo "kernel.sh: no linux-image-cloud-amd64 in the package lists" >&2; exit 1; }
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
chmod 755 "$download"
(cd "$download" && apt-get download -q "$name" >&2)
dpkg -x "$download"/*.deb "$cache/$name"
find "$cache/$name" -path '*/boot/vmlinuz-*' | sort -V | tail -n 1
