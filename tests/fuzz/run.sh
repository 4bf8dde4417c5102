#!/bin/sh
# run.sh BUILD_DIR SECONDS — fuzz smoke run: writes the seed corpora with
# make_corpus into a temporary directory, then runs fuzz_archive, fuzz_inner
# and fuzz_codec for SECONDS each. Exits non-zero if any target finds a
# crash, leak, sanitizer report or timeout (reproducers are kept and their
# paths printed).
set -u
if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
fi
bin=$1
secs=$2
for t in make_corpus fuzz_archive fuzz_inner fuzz_codec; do
	if [ ! -x "$bin/$t" ]; then
		echo "run.sh: $bin/$t not built (cmake --build … --target $t)" >&2
		exit 2
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz.XXXXXX") || exit 2
"$bin/make_corpus" "$work/seeds" || { echo "run.sh: make_corpus failed" >&2; rm -rf "$work"; exit 1; }

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
for pair in fuzz_archive:archive fuzz_inner:inner fuzz_codec:codec; do
	t=${pair%%:*}
	seeds=${pair#*:}
	corpus="$work/corpus-$t"
	artifacts="$work/artifacts-$t"
	mkdir -p "$corpus" "$artifacts"
	echo "== $t: ${secs}s"
	"$bin/$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=25 \
		-print_final_stats=1 -artifact_prefix="$artifacts/" \
		"$corpus" "$work/seeds/$seeds" >"$work/$t.log" 2>&1
	rc=$?
	tail -n 15 "$work/$t.log"
	if [ $rc -ne 0 ] || ls "$artifacts" | grep -q .; then
		echo "run.sh: $t FAILED (exit $rc); log $work/$t.log, reproducers:" >&2
		ls -1 "$artifacts"/* >&2 2>/dev/null
		status=1
	fi
done

if [ $status -eq 0 ]; then
	rm -rf "$work"
	echo "run.sh: all fuzz targets ran ${secs}s without findings"
else
	echo "run.sh: findings kept in $work" >&2
fi
exit $status
