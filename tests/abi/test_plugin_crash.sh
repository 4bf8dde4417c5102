#!/bin/sh
# test_plugin_crash.sh CAIRN ABI_BUILD_DIR PLUGIN_DIR
#
# Plugins that crash (SIGSEGV), hang or exit(3) in a constructor or their
# entry point, next to the real plugins, take no command down: commands
# that need other schemes work (with a note they never run them; without
# one they are probed in a child and skipped), `plugins list` reports each
# bad file and exits 0, `plugins check BAD.so` exits 7 with one error line.
# Every command runs under a hard timeout, so a regression fails instead of
# hanging. With CAIRN_TEST_PG_PORT (tests/peers/postgresql.sh) a backup is
# also created and verified that way.
set -u
cairn=$1 abi=$2 real=$3
crash=$abi/crash nonote=$abi/crash-nonote
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
T() { timeout -k 5 60 "$@"; } # 60 s: far above the probes' 5 s, far below "hung"

unset CAIRN_PLUGIN_PATH CAIRN_SOURCE CAIRN_STORAGE CAIRN_ENCRYPTION_KEY
export CAIRN_CONFIG="$tmp/none.conf"
: > "$CAIRN_CONFIG"
store="file://$tmp/store"
mkdir "$tmp/store"

# file<TAB>what the report must say
cat > "$tmp/expect" <<'LIST'
cairn-storage-ctorsegv.so	crashed (signal 11)
cairn-storage-entrysegv.so	crashed (signal 11)
cairn-storage-ctorhang.so	no answer in 5 s
cairn-storage-entryhang.so	no answer in 5 s
cairn-storage-entryexit.so	exited (status 3)
LIST
tab=$(printf '\t')

# --- commands needing only storage: the noted bad plugins never run --------
T "$cairn" --plugin-dir "$crash" --plugin-dir "$real" backups list --storage "$store" \
	> "$tmp/out" 2> "$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "backups list next to crashing plugins exited $rc: $(cat "$tmp/err")"
grep -q 'WARN' "$tmp/err" && fail "backups list: a plugin with a note was run: $(cat "$tmp/err")"
T "$cairn" --plugin-dir "$crash" --plugin-dir "$real" --output json backups list \
	--storage "$store" > "$tmp/out" 2> "$tmp/err"
rc=$?
[ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = "[]" ] ||
	fail "backups list --output json next to crashing plugins: rc $rc, $(cat "$tmp/out" "$tmp/err")"
T "$cairn" --plugin-dir "$crash" --plugin-dir "$real" backups verify "$store/none.cairn" \
	> "$tmp/out" 2> "$tmp/err"
rc=$?
[ "$rc" -eq 6 ] || fail "backups verify of a missing backup exited $rc (want 6, storage): $(cat "$tmp/err")"

# --- the same plugins without a note: probed in children, skipped, reported --
T "$cairn" --plugin-dir "$nonote" --plugin-dir "$real" backups list --storage "$store" \
	> "$tmp/out" 2> "$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "backups list next to note-less crashing plugins exited $rc: $(cat "$tmp/err")"
while IFS="$tab" read -r file reason; do
	grep -F "plugin '$nonote/$file' skipped: $reason" "$tmp/err" > /dev/null ||
		fail "backups list: no warning '$reason' for note-less $file: $(cat "$tmp/err")"
done < "$tmp/expect"

# --- a candidate that is refused is named in the exit-7 message ------------
T "$cairn" --plugin-dir "$crash" --plugin-dir "$real" backups list --storage notelie:///x \
	> "$tmp/out" 2> "$tmp/err"
rc=$?
[ "$rc" -eq 7 ] || fail "backups list --storage notelie:// exited $rc (want 7)"
grep -qF "no storage plugin for 'notelie://' (a candidate was refused: its plugin note does not match its info" \
	"$tmp/err" || fail "notelie: $(cat "$tmp/err")"

# --- create and verify through PostgreSQL, when a server is there -----------
if [ -n "${CAIRN_TEST_PG_PORT:-}" ] && [ -e "$real/cairn-source-postgresql.so" ] && pg_isready -q -h 127.0.0.1 -p "$CAIRN_TEST_PG_PORT" 2>/dev/null; then
	db=abi_plugin_crash
	export PGOPTIONS="-c client_min_messages=warning"
	psql() { command psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$CAIRN_TEST_PG_PORT" -U postgres "$@"; }
	psql -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" > /dev/null &&
		psql -d "$db" -f "$(dirname "$0")/../fixtures/kestra-postgres.sql" > /dev/null ||
		fail "unable to prepare database $db"
	for dirs in "--plugin-dir $crash" "--plugin-dir $nonote"; do
		# shellcheck disable=SC2086 # two words on purpose
		T "$cairn" $dirs --plugin-dir "$real" backups create FULL --no-encryption --no-progress \
			--source "postgresql://postgres@127.0.0.1:$CAIRN_TEST_PG_PORT/$db" --storage "$store" \
			> "$tmp/out" 2> "$tmp/err"
		rc=$?
		[ "$rc" -eq 0 ] || fail "backups create ($dirs) exited $rc: $(cat "$tmp/err")"
		uri=$(sed -n 's/^Backup created: //p' "$tmp/out")
		# shellcheck disable=SC2086
		T "$cairn" $dirs --plugin-dir "$real" backups verify "$uri" \
			> "$tmp/out" 2> "$tmp/err"
		rc=$?
		[ "$rc" -eq 0 ] || fail "backups verify ($dirs) $uri exited $rc: $(cat "$tmp/err")"
	done
	psql -d postgres -c "DROP DATABASE IF EXISTS $db" > /dev/null
else
	echo "note: no PostgreSQL (CAIRN_TEST_PG_PORT): create/verify part not run" >&2
fi

# --- plugins list: every bad file reported, the real plugins listed ---------
T "$cairn" --plugin-dir "$crash" --plugin-dir "$nonote" --plugin-dir "$real" plugins list \
	> "$tmp/out" 2> "$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "plugins list exited $rc: $(cat "$tmp/err")"
for dir in "$crash" "$nonote"; do
	while IFS="$tab" read -r file reason; do
		grep -qxF "refused: $dir/$file: $reason" "$tmp/out" ||
			fail "plugins list: no 'refused: $dir/$file: $reason' in $(cat "$tmp/out")"
	done < "$tmp/expect"
done
grep -q "^refused: $crash/cairn-storage-notebroken.so: malformed plugin note: field 'schemes' missing$" \
	"$tmp/out" || fail "plugins list: malformed note not reported"
grep -q '^fs  *storage .* (no plugin note' "$tmp/out" && fail "plugins list: fs has no note"
grep -q '^fs  *storage' "$tmp/out" || fail "plugins list lacks fs: $(cat "$tmp/out")"

T "$cairn" --plugin-dir "$crash" --plugin-dir "$nonote" --plugin-dir "$real" --output json \
	plugins list > "$tmp/json" 2> "$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "plugins list --output json exited $rc: $(cat "$tmp/err")"
python3 - "$tmp/json" "$tmp/expect" "$crash" "$nonote" <<'PY' || fail "plugins list --output json: wrong content"
import json, sys
doc = json.load(open(sys.argv[1]))
by_path = {p["path"]: p for p in doc}
for line in open(sys.argv[2]):
    file, reason = line.rstrip("\n").split("\t")
    for d in sys.argv[3:5]:
        assert by_path[d + "/" + file]["refused"] == reason, (d, file, by_path.get(d + "/" + file))
fs = [p for p in doc if p.get("name") == "fs"]
assert fs and fs[0]["note"] is True and fs[0]["kind"] == "storage", fs
PY

# --- plugins check on each bad file: exit 7, one error line -----------------
for dir in "$crash" "$nonote"; do
	while IFS="$tab" read -r file reason; do
		T "$cairn" plugins check "$dir/$file" > "$tmp/out" 2> "$tmp/err"
		rc=$?
		[ "$rc" -eq 7 ] || fail "plugins check $dir/$file exited $rc (want 7)"
		[ "$(cat "$tmp/err")" = "cairn: error: plugin '$dir/$file' refused: $reason" ] ||
			fail "plugins check $dir/$file said: $(cat "$tmp/err")"
		[ -s "$tmp/out" ] && fail "plugins check $dir/$file wrote to stdout: $(cat "$tmp/out")"
	done < "$tmp/expect"
done
T "$cairn" plugins check "$real/cairn-storage-fs.so" > "$tmp/out" 2> "$tmp/err" ||
	fail "plugins check fs: $(cat "$tmp/err")"
grep -qx "$real/cairn-storage-fs.so: ok: fs storage plugin [^ ]*, ABI [0-9.]*" "$tmp/out" ||
	fail "plugins check fs said: $(cat "$tmp/out")"

[ "$failed" -eq 0 ] && echo "ok: crashing, hanging and exiting plugins take no command down"
exit "$failed"
