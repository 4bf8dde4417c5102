#!/usr/bin/env bash
# bench/run.sh at a tiny size, against the test server and this build: it
# runs to the end, every restored database equals its source (the script
# exits 1 otherwise), and the report has its rows and issue 10's ratios.
# Nothing is asserted about times.
. "$(dirname "$0")/lib.sh"
need_pg
for tool in pg_dump pg_restore zstd openssl /usr/bin/time; do
	if ! command -v "$tool" >/dev/null; then
		[ "${CI:-}" = true ] && fail "$tool is missing (packaging/build-deps.txt)"
		echo "SKIPPED [$TEST]: $tool is missing" >&2
		exit 77
	fi
done
BENCH_EXTERNAL=1 BENCH_PORT=$PGPORT BENCH_CAIRN=$CAIRN BENCH_OUT="$WORK/report.md" \
	bash "$(dirname "$0")/../../bench/run.sh" 400 >"$WORK/out" 2>"$WORK/err" ||
	{ tail -n 30 "$WORK/err" >&2; fail "bench/run.sh failed"; }
grep -q 'AddressSanitizer\|runtime error' "$WORK/err" && { cat "$WORK/err" >&2; fail "sanitizer report"; }
r="$WORK/report.md"
grep -q '^### 400 flow rows' "$r" || fail "no section for the size"
for row in '| backup |' '| restore into empty |' '| restore into a target holding the same rows |' '| verify |'; do
	grep -qF "$row" "$r" || fail "the report lacks the row '$row'"
done
grep -q 'every record UNCHANGED: yes\.' "$r" || fail "restored databases differ: $(grep 'Restored databases' "$r")"
grep -q "Issue 10's goals at 400 flow rows" "$r" || fail "the report lacks the ratios"
[ "$(pg postgres -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'bench\_%'")" = 0 ] ||
	fail "the run left its databases behind"
note "ok"
