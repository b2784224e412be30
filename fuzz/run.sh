#!/usr/bin/env bash
# Build every cargo-fuzz target and run each for DURATION seconds (default 10).
#
#   fuzz/run.sh [DURATION]
#
# Stable toolchain: sanitizers need nightly, so targets are built with
# `--sanitizer none` (optimized, with debug assertions and overflow checks).
# New corpus entries go to fuzz/target/run-corpus/<target> (the committed
# corpus in fuzz/corpus/<target> is read, never written); crashes land in
# fuzz/artifacts/<target>/ and fail the run. Logs: fuzz/target/run-logs/.
set -euo pipefail

duration=${1:-10}
case $duration in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$fuzz_dir")
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
	echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
	exit 2
fi

work=$fuzz_dir/target/run-corpus
logs=$fuzz_dir/target/run-logs
# spec_parse (its bundle), layer_unpack (its layer directories) and
# archive_extract (its stores) write under $TMPDIR; keep that inside
# fuzz/target.
export TMPDIR=$fuzz_dir/target/tmp
cleanup() { rm -rf "$work" "$TMPDIR"; }
trap cleanup EXIT
cleanup
mkdir -p "$work" "$logs" "$TMPDIR"

# One build, then the binaries run directly: a source edit during the run
# does not trigger rebuilds between targets.
cargo fuzz build --sanitizer none --fuzz-dir "$fuzz_dir"
host=$(rustc -vV | sed -n 's/^host: //p')
bin=$fuzz_dir/target/$host/release

failed=0
for target in $(cargo fuzz list --fuzz-dir "$fuzz_dir"); do
	mkdir -p "$work/$target" "$fuzz_dir/artifacts/$target"
	log=$logs/$target.log
	status=0
	# The first corpus directory receives new inputs; the committed one is only read.
	"$bin/$target" -artifact_prefix="$fuzz_dir/artifacts/$target/" \
		-max_total_time="$duration" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
		"$work/$target" "$fuzz_dir/corpus/$target" >"$log" 2>&1 || status=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ "$status" -eq 0 ] && [ -n "$runs" ]; then
		echo "FUZZ $target runs=$runs ok"
	else
		failed=1
		echo "FUZZ $target runs=${runs:-?} FAILED (exit $status; log $log)"
		grep -E '^(thread .* panicked|==[0-9]+== ?ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" | head -n 20 || true
		tail -n 40 "$log"
	fi
done
exit "$failed"
