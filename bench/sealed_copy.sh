#!/usr/bin/env bash
# usage: sealed_copy.sh RUNTIME [RUNS]
# The cost of the CVE-2019-5736 protection: `exec` of an unknown container
# makes the sealed copy and re-executes before it fails, `state` of one does
# not; the difference of the two medians is the copy plus the second execve.
set -euo pipefail
runtime=$(realpath "$1")
runs=${2:-200}
root=$(mktemp -d /tmp/skiff-bench-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
command -v hyperfine >/dev/null || { echo "sealed_copy: hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
hyperfine -N -i -w 20 -r "$runs" --export-json "$root/out.json" \
  "$runtime --root $root state no-such-container" \
  "$runtime --root $root exec no-such-container true" >/dev/null
python3 - "$root/out.json" "$(stat -c %s "$runtime")" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
plain, sealed = (statistics.median(r["times"]) * 1000 for r in results)
print(f"RESULT without the sealed copy: median {plain:.2f} ms")
print(f"RESULT with the sealed copy:    median {sealed:.2f} ms")
print(f"COST sealed copy of a {int(sys.argv[2]) / 1e6:.1f} MB binary: {sealed - plain:.2f} ms")
PY
