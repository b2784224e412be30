#!/usr/bin/env bash
# usage: demo.sh SKIFF
# Makes a busybox image from Debian's busybox-static with `skiff import`, runs
# it with `skiff run --rm` on the default bridge network, and shows what
# makes it a container. Everything lives in a temporary store, removed after.
set -euo pipefail
skiff=$(realpath "$1")
work=$(mktemp -d /tmp/skiff-demo.XXXXXX)
sk() { "$skiff" --root "$work/root" --runroot "$work/run" "$@"; }
cleanup() {
  sk rm -f demo >/dev/null 2>&1 || true
  for n in $(sk network ls -q 2>/dev/null); do sk network rm "$n" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

busybox=$(command -v busybox || echo /bin/busybox)
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
for applet in $("$busybox" --list); do ln -s busybox "$work/rootfs/bin/$applet"; done
cp --remove-destination "$busybox" "$work/rootfs/bin/busybox"
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .

echo "== skiff import rootfs.tar busybox"
sk import "$work/rootfs.tar" busybox
sk images
echo "== namespaces of the host:"
for n in mnt uts ipc pid net cgroup; do printf '  %-7s %s\n' "$n" "$(readlink /proc/self/ns/$n)"; done
echo "== skiff run --rm --name demo -h skiff-demo busybox sh -c ..."
SKIFF_DNS_UPSTREAM=127.0.0.1:9 sk run --rm --name demo -h skiff-demo busybox sh -c '
  echo "== hostname:  $(hostname)"
  echo "== my pid:    $$  (pid 1: $(cat /proc/1/cmdline | tr "\0" " "))"
  echo "== ps (only the container'"'"'s processes):"; ps
  echo "== mount table:"; cat /proc/self/mounts
  echo "== network:"; ip -o -4 addr | awk "{print \$2, \$4}"; ip route
  echo "== namespaces inside:"
  for n in mnt uts ipc pid net cgroup; do printf "  %-7s %s\n" $n "$(readlink /proc/self/ns/$n)"; done
'
echo "== after --rm: skiff ps -a"
sk ps -a
