#!/usr/bin/env bash
# Build the skiff-cgroups unit-test binary and run it in a cgroup v2 VM.
#
#   tests/vm/cgroups-v2.sh [CARGO-ARGS...]
#
# Extra arguments go to `cargo test` (e.g. --release). CARGO and
# CARGO_TARGET_DIR are honoured; everything else is as in run.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/../.."
cargo=${CARGO:-cargo}
command -v "$cargo" >/dev/null 2>&1 || {
    echo "$0: missing: cargo" >&2
    exit 2
}

# Cargo prints one JSON object per line; the lib test target's artifact line
# carries the test binary in "executable".
json=$("$cargo" test -p skiff-cgroups --lib --no-run --message-format=json "$@")
binary=$(printf '%s\n' "$json" |
    grep '"reason":"compiler-artifact"' |
    grep '"name":"skiff_cgroups"' |
    grep '"test":true' |
    grep -o '"executable":"[^"]*"' |
    tail -n 1 |
    sed 's/^"executable":"//; s/"$//')
if [ -z "$binary" ] || [ ! -x "$binary" ]; then
    echo "$0: cargo did not report the skiff-cgroups test binary" >&2
    exit 1
fi
exec "$here/run.sh" "$binary"
