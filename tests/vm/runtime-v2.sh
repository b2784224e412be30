#!/usr/bin/env bash
# Run skiff-runtime's end-to-end tests that touch cgroups on a pure cgroup v2
# host: builds the runtime and the test binaries, then boots them in the VM
# of run.sh with the runtime as SKIFF_RUNTIME.
#
#   tests/vm/runtime-v2.sh [TEST-FILE...]    (default: cgroups lifecycle exec)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(cgroups lifecycle exec)
cargo build -p skiff-runtime
target=${CARGO_TARGET_DIR:-$top/target}
args=()
for t in "${tests[@]}"; do args+=(--test "$t"); done
built=$(mktemp)
trap 'rm -f "$built"' EXIT
cargo test -p skiff-e2e "${args[@]}" --no-run --message-format=json >"$built"
mapfile -t bins < <(python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])
' <"$built")
[ ${#bins[@]} -gt 0 ] || { echo "runtime-v2: no test binaries were built" >&2; exit 1; }
SKIFF_VM_TOOLS="$target/debug/skiff-runtime" "$here/run.sh" "${bins[@]}"
