#!/bin/sh
# test_cli_plugins.sh CAIRN BAD_DIR GOOD_SO ABI10_SO
#
# `cairn plugins list` and `cairn plugins check` against the broken plugins
# of tests/abi: every refusal is listed with its file, nothing crashes, the
# exit codes and the one-line error are as documented, JSON is valid.
set -u
cairn=$1 bad=$2 good=$3 abi10=$4
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
T() { timeout -k 5 60 "$@"; } # plugins are probed in children: never hang CI

# keep the user's environment out of the plugin search path
unset CAIRN_PLUGIN_PATH CAIRN_CONFIG
export CAIRN_CONFIG="$tmp/none.conf"
: > "$CAIRN_CONFIG"

# file<TAB>reason fragment
cat > "$tmp/expect" <<'LIST'
cairn-storage-noentry.so	no cairn_plugin_entry_v1 symbol
cairn-storage-entryv2.so	built for plugin ABI 2; this cairn supports ABI 1
cairn-storage-major.so	built for plugin ABI 2.0
cairn-storage-minor.so	needs plugin ABI 1.5, newer than this cairn's 1.4; upgrade cairn
cairn-storage-underdeclared.so	declares plugin ABI 1.0 but sets 'housekeep' (since 1.2)
cairn-source-undersrc.so	declares plugin ABI 1.1 but sets 'list_tenants' (since 1.2)
cairn-storage-infosmall.so	plugin info struct too small
cairn-storage-vtsmall.so	storage vtable too small
cairn-storage-nolist.so	missing required method 'list'
cairn-source-nocursor.so	missing required method 'cursor_next'
cairn-storage-kind.so	unknown plugin kind 99
cairn-storage-noname.so	missing required member 'name'
cairn-storage-noschemes.so	missing required member 'schemes'
cairn-storage-emptyschemes.so	missing required member 'schemes'
cairn-storage-nullentry.so	entry point returned no plugin info
cairn-storage-garbage.so	dlopen failed
cairn-storage-unresolved.so	dlopen failed
LIST

# --- plugins list: exit 0, one "refused:" line per bad file ---------------
T "$cairn" --plugin-dir "$bad" plugins list > "$tmp/out" 2> "$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "plugins list exited $rc: $(cat "$tmp/err")"
tab=$(printf '\t')
while IFS="$tab" read -r file reason; do
	grep -F "refused: $bad/$file: " "$tmp/out" | grep -qF -- "$reason" ||
		fail "plugins list: no refusal '$reason' for $file"
done < "$tmp/expect"
n=$(grep -c '^refused: ' "$tmp/out")
want=$(wc -l < "$tmp/expect")
[ "$n" -eq "$want" ] || fail "plugins list: $n refusal lines, expected $want"
grep -q 'README' "$tmp/out" && fail "plugins list: a file not named cairn-*.so was loaded"

# --- JSON output is valid and carries every refusal ------------------------
T "$cairn" --plugin-dir "$bad" --output json plugins list > "$tmp/json" 2> "$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "plugins list --output json exited $rc: $(cat "$tmp/err")"
python3 -c 'import json,sys; json.load(sys.stdin)' < "$tmp/json" ||
	fail "plugins list --output json: invalid JSON"
python3 - "$tmp/json" "$want" <<'PY' || fail "plugins list --output json: wrong content"
import json, sys
doc = json.load(open(sys.argv[1]))
refused = [p for p in doc if "refused" in p]
assert len(refused) == int(sys.argv[2]), len(refused)
assert all(p["path"] and p["refused"] for p in refused)
PY

# --- plugins check on every bad file: exit 7, one line on stderr -----------
while IFS="$tab" read -r file reason; do
	T "$cairn" plugins check "$bad/$file" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ "$rc" -eq 7 ] || fail "plugins check $file exited $rc (want 7)"
	[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "plugins check $file: stderr is not one line: $(cat "$tmp/err")"
	grep -q "^cairn: error: plugin '$bad/$file' refused: " "$tmp/err" ||
		fail "plugins check $file: bad message: $(cat "$tmp/err")"
	grep -qF -- "$reason" "$tmp/err" || fail "plugins check $file: no '$reason' in $(cat "$tmp/err")"
	[ -s "$tmp/out" ] && fail "plugins check $file: wrote to stdout"
done < "$tmp/expect"

# --- plugins check on good plugins: exit 0 ----------------------------------
for so in "$good" "$abi10"; do
	T "$cairn" plugins check "$so" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ "$rc" -eq 0 ] || fail "plugins check $so exited $rc: $(cat "$tmp/err")"
	grep -q "^$so: ok: " "$tmp/out" || fail "plugins check $so: $(cat "$tmp/out")"
done
grep -q "abi10 storage plugin 1.0.0, ABI 1.0" "$tmp/out" || fail "plugins check abi10: $(cat "$tmp/out")"

[ "$failed" -eq 0 ] && echo "ok: plugins list/check against $want broken plugins"
exit "$failed"
