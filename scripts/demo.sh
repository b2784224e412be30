#!/usr/bin/env bash
# usage: demo.sh RUNTIME
# Runs a busybox container with RUNTIME and shows what makes it a container.
set -euo pipefail
runtime=$(realpath "$1")
work=$(mktemp -d /tmp/skiff-demo.XXXXXX)
id=demo-$$
cleanup() {
  "$runtime" --root "$work/state" delete --force "$id" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

host_ns() { for n in mnt uts ipc pid net cgroup; do printf '  %-7s %s\n' "$n" "$(readlink /proc/self/ns/$n)"; done; }

"$(dirname "$0")/mkbundle.sh" "$runtime" "$work/bundle" /bin/sh -c '
  echo "== hostname:  $(hostname)"
  echo "== my pid:    $$"
  echo "== ps (only the container'"'"'s processes):"; ps
  echo "== mount table:"; cat /proc/self/mounts
  echo "== network interfaces:"; ip -o link | cut -d: -f2
  echo "== namespaces inside:"
  for n in mnt uts ipc pid net cgroup; do printf "  %-7s %s\n" $n "$(readlink /proc/self/ns/$n)"; done
'
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["hostname"] = "skiff-demo"
spec["linux"]["namespaces"].append({"type": "cgroup"})
json.dump(spec, open(sys.argv[1], "w"), indent=1)
PY
echo "== namespaces of the host:"
host_ns
echo "== running $runtime run $id"
"$runtime" --root "$work/state" run --bundle "$work/bundle" "$id"
