#!/usr/bin/env bash
# Internal-storage files (docs/full-backup.md) with a local (file://)
# internal storage: a full backup with --include-data restores into a fresh
# PostgreSQL and a fresh directory, every row and every file byte-equal;
# re-runs and --dry-run compare by size and hash; orphans are reported both
# ways and never fail; --resources KV_STORE on create and restore; TENANT
# backups hold their tenant's files and --to-tenant moves them; a backup's
# files without --internal-storage are counted, not written.
. "$(dirname "$0")/lib.sh"
need_pg

rows() { pg "$1" -c "SELECT count(*) FROM $2"; }
json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[k]
print(json.dumps(d) if isinstance(d,(dict,list)) else d)' "$1"; }
restore() { # restore URI DB DIR [ARGS…] → stdout in $WORK/out, log in $WORK/err
	local u=$1 db=$2 dir=$3; shift 3
	"$CAIRN" backups restore "$u" --source "$(uri "$db")" --storage "$STORE" --no-progress \
		--internal-storage "file://$dir" "$@" >"$WORK/out" 2>"$WORK/err" ||
		{ cat "$WORK/err" >&2; fail "restore $u into $db / $dir $*"; }
	grep -q 'AddressSanitizer\|runtime error' "$WORK/err" && fail "sanitizer report"
	return 0
}

src=$(new_db src sample)
IS="$WORK/kestra-storage"
sample_files "$IS"
NOT_TAKEN='/states/'

# --- a full backup: every row, every file -----------------------------------
out=$("$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" --no-progress \
	--include-data --internal-storage "file://$IS" --output json 2>"$WORK/create.err") ||
	{ cat "$WORK/create.err"; fail "create with files"; }
u=$(json_get uri <<<"$out")
[ "$(json_get files.KV_STORE.files <<<"$out")" = 3 ] || fail "KV_STORE files: $out"
[ "$(json_get files.NAMESPACE_FILE.files <<<"$out")" = 2 ] || fail "NAMESPACE_FILE files: $out"
[ "$(json_get files.EXECUTION_FILE.files <<<"$out")" = 2 ] || fail "EXECUTION_FILE files: $out"
[ "$(json_get files.EXECUTION_FILE.bytes <<<"$out")" = $((4 * 1024 * 1024 + 123)) ] || fail "bytes: $out"
[ "$(json_get orphans.kv_rows_without_file_count <<<"$out")" = 0 ] || fail "orphans in a consistent instance: $out"
[ "$(json_get orphans.namespace_files_without_row_count <<<"$out")" = 0 ] || fail "orphans: $out"
grep -q 'Files summary: \[EXECUTION_FILE: 2 files, 4194427 bytes, KV_STORE: 3 files, 18 bytes, NAMESPACE_FILE: 2 files, 42 bytes\]' \
	"$WORK/create.err" || { cat "$WORK/create.err"; fail "files summary line"; }
grep -q '1 other objects of the internal storage' "$WORK/create.err" || fail "the state store is not said to be left out"
"$CAIRN" backups info "$u" --storage "$STORE" --output json | grep -q '"format":2,' || fail "a backup with files is not format 2"
"$CAIRN" backups info "$u" --storage "$STORE" | grep -q '^files: *EXECUTION_FILE, KV_STORE, NAMESPACE_FILE$' || fail "info: files line"

full=$(new_db full)
restore "$u" "$full" "$WORK/is-full"
[ "$(digest "$src")" = "$(digest "$full")" ] || fail "metadata differs after a restore with files"
[ "$(data_digest "$src")" = "$(data_digest "$full")" ] || fail "execution data differs after a restore with files"
[ "$(tree_digest "$IS" "$NOT_TAKEN")" = "$(tree_digest "$WORK/is-full")" ] || {
	diff <(tree_digest "$IS" "$NOT_TAKEN") <(tree_digest "$WORK/is-full") >&2; fail "files differ after the restore"; }
grep -q 'Files cannot be rolled back: reading the whole backup before the first write' "$WORK/err" || fail "no check pass"
grep -q 'Files restored: \[EXECUTION_FILE: 2 new, 0 changed, 0 unchanged, KV_STORE: 3 new, 0 changed, 0 unchanged, NAMESPACE_FILE: 2 new, 0 changed, 0 unchanged\]' \
	"$WORK/err" || { cat "$WORK/err"; fail "restore files line"; }
note "FULL --include-data: every row and every file (sidecar, .v2, 4 MiB + 123 bytes in 2 parts, empty) equal"

# --- again: unchanged; a changed and a missing file; --dry-run writes nothing --
restore "$u" "$full" "$WORK/is-full"
grep -q 'KV_STORE: 0 new, 0 changed, 3 unchanged' "$WORK/err" || { cat "$WORK/err"; fail "second restore rewrote files"; }
printf 'tampered' >"$WORK/is-full/main/company/team/_files/scripts/etl.py"
printf '{"description":"changed"}' >"$WORK/is-full/main/company/team/_kv/api_token.ion.metadata"
rm "$WORK/is-full/acme/acme/sales/_kv/threshold.ion.v2"
before=$(tree_digest "$WORK/is-full")
restore "$u" "$full" "$WORK/is-full" --dry-run --output json
[ "$(tree_digest "$WORK/is-full")" = "$before" ] || fail "--dry-run wrote files"
[ "$(json_get files.KV_STORE.new <"$WORK/out")" = 1 ] && [ "$(json_get files.KV_STORE.changed <"$WORK/out")" = 1 ] &&
	[ "$(json_get files.KV_STORE.unchanged <"$WORK/out")" = 1 ] || fail "dry run KV_STORE: $(cat "$WORK/out")"
[ "$(json_get files.NAMESPACE_FILE.changed <"$WORK/out")" = 1 ] || fail "dry run NAMESPACE_FILE: $(cat "$WORK/out")"
grep -q 'Files that would change: \[EXECUTION_FILE: 0 new, 0 changed, 2 unchanged, KV_STORE: 1 new, 1 changed, 1 unchanged' \
	"$WORK/err" || { cat "$WORK/err"; fail "dry-run files line"; }
restore "$u" "$full" "$WORK/is-full"
[ "$(tree_digest "$IS" "$NOT_TAKEN")" = "$(tree_digest "$WORK/is-full")" ] || fail "changed files not restored"
note "re-run: unchanged files untouched; changed, re-sidecared and missing ones restored; --dry-run writes nothing"

# --- orphans, both ways, on create and on verify; never a failure ------------
cp -r "$IS" "$WORK/is-orphans"
rm "$WORK/is-orphans/main/company/team/_files/scripts/etl.py"
printf 'stray' >"$WORK/is-orphans/acme/acme/sales/_kv/stray.ion"
printf 'stray' >"$WORK/is-orphans/main/company/team/_files/nobody.txt"
out=$("$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" --no-progress \
	--internal-storage "file://$WORK/is-orphans" --output json 2>"$WORK/create.err") ||
	{ cat "$WORK/create.err"; fail "create with orphans failed"; }
uo=$(json_get uri <<<"$out")
grep -q "orphan: namespace-file row 'main_company.team_/scripts/etl.py_1' has no file 'main/company/team/_files/scripts/etl.py'" \
	"$WORK/create.err" || { cat "$WORK/create.err"; fail "row without file not reported"; }
grep -q "orphan: file 'acme/acme/sales/_kv/stray.ion' has no KV row" "$WORK/create.err" || fail "KV file without row"
grep -q "orphan: file 'main/company/team/_files/nobody.txt' has no namespace-file row" "$WORK/create.err" || fail "namespace file without row"
[ "$(json_get orphans.namespace_rows_without_file_count <<<"$out")" = 1 ] &&
	[ "$(json_get orphans.kv_files_without_row_count <<<"$out")" = 1 ] &&
	[ "$(json_get orphans.namespace_files_without_row_count <<<"$out")" = 1 ] &&
	[ "$(json_get orphans.kv_rows_without_file_count <<<"$out")" = 0 ] || fail "orphans in JSON: $out"
[ "$(json_get orphans.kv_files_without_row <<<"$out")" = '["acme/acme/sales/_kv/stray.ion"]' ] || fail "orphan list: $out"
"$CAIRN" backups verify "$uo" --storage "$STORE" --output json >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; fail "verify with orphans"; }
[ "$(json_get orphans.namespace_rows_without_file_count <"$WORK/out")" = 1 ] || fail "verify's orphans: $(cat "$WORK/out")"
grep -q "orphan: file 'acme/acme/sales/_kv/stray.ion' has no KV row" "$WORK/err" || fail "verify does not report orphans"
note "orphans both ways: warnings and JSON on create and verify, exit 0"

# --- --resources KV_STORE, create and restore ---------------------------------
kinds_of() { "$CAIRN" backups info "$1" --storage "$STORE" --output json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(",".join(d["kinds"]) + "/" + ",".join(d["files"]))'; }
uk=$(create FULL --source "$(uri "$src")" --resources KV_STORE --internal-storage "file://$IS")
[ "$(kinds_of "$uk")" = "KV/KV_STORE" ] || fail "--resources KV_STORE covered $(kinds_of "$uk")"
kv=$(new_db kv)
restore "$uk" "$kv" "$WORK/is-kv"
[ "$(rows "$kv" kv_metadata)" = 3 ] && [ "$(rows "$kv" flows)" = 0 ] || fail "KV_STORE restore wrote other rows"
[ "$(tree_digest "$IS" '/_files/|/executions/|/states/')" = "$(tree_digest "$WORK/is-kv")" ] || fail "KV_STORE files"
kv2=$(new_db kv2)
restore "$u" "$kv2" "$WORK/is-kv2" --resources kv_store
[ "$(rows "$kv2" kv_metadata)" = 3 ] && [ "$(rows "$kv2" namespace_file_metadata)" = 0 ] ||
	fail "restore --resources KV_STORE wrote other rows"
[ "$(tree_digest "$IS" '/_files/|/executions/|/states/')" = "$(tree_digest "$WORK/is-kv2")" ] ||
	fail "restore --resources KV_STORE wrote other files"
expect_fail 2 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" --resources KV_STORE
case "$ERR" in *"give --internal-storage"*) ;; *) fail "KV_STORE without internal storage: $ERR" ;; esac
expect_fail 2 "$CAIRN" backups restore "$uk" --source "$(uri "$kv")" --storage "$STORE" --resources NAMESPACE_FILE \
	--internal-storage "file://$WORK/is-kv"
expect_fail 2 "$CAIRN" backups restore "$uk" --source "$(uri "$kv")" --storage "$STORE" --resources EXECUTION_FILE
case "$ERR" in *"holds no EXECUTION_FILE files"*) ;; *) fail "restore of a file kind not in the backup: $ERR" ;; esac
expect_fail 2 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" --resources NOPE
case "$ERR" in *"valid: APP, AUDIT_LOG,"*"EXECUTION, EXECUTION_FILE, FLOW,"*"KV, KV_STORE, LOG,"*) ;; *) fail "valid names: $ERR" ;; esac
note "--resources KV_STORE: KV rows and values only, on create and on restore"

# --- without --internal-storage: records restored, files counted and named ----
bare=$(new_db bare)
"$CAIRN" backups restore "$u" --source "$(uri "$bare")" --storage "$STORE" --no-progress >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore without internal storage"; }
[ "$(digest "$src")" = "$(digest "$bare")" ] || fail "records not restored without internal storage"
grep -q 'WARN .*7 files of the backup were not restored: no internal storage given' "$WORK/err" ||
	{ cat "$WORK/err"; fail "no warning for files not restored"; }
note "no --internal-storage: rows restored, '7 files … were not restored' warned"

# --- TENANT: that tenant's files; --to-tenant moves them ----------------------
ut=$(create TENANT --tenant acme --source "$(uri "$src")" --include-data --internal-storage "file://$IS")
grep -q 'Files summary: \[EXECUTION_FILE: 1 file, 0 bytes, KV_STORE: 2 files, 4 bytes, NAMESPACE_FILE: 0 files, 0 bytes\]' \
	"$WORK/create.err" || { cat "$WORK/create.err"; fail "TENANT files summary"; }
zeta=$(new_db zeta)
restore "$ut" "$zeta" "$WORK/is-zeta" --to-tenant zeta
[ "$(cd "$WORK/is-zeta" && find . -type f | sort | tr '\n' ' ')" = \
	"./zeta/acme/ops/cleanup_job/executions/6Xb3jM0cVqP1/trigger/nightly/empty.txt ./zeta/acme/sales/_kv/threshold.ion ./zeta/acme/sales/_kv/threshold.ion.v2 " ] ||
	fail "--to-tenant files: $(cd "$WORK/is-zeta" && find . -type f)"
cmp "$IS/acme/acme/sales/_kv/threshold.ion.v2" "$WORK/is-zeta/zeta/acme/sales/_kv/threshold.ion.v2" || fail "moved file differs"
[ "$(pg "$zeta" -c "SELECT count(*) FROM kv_metadata WHERE tenant_id = 'zeta'")" = 2 ] || fail "--to-tenant rows"
note "TENANT acme: its files only; --to-tenant zeta writes them under zeta/"

# --- formats: 1 without files still reads; a newer one is refused clearly -----
u1=$(create FULL --source "$(uri "$src")")
"$CAIRN" backups info "$u1" --storage "$STORE" --output json | grep -q '"format":1,' || fail "a backup without files is not format 1"
"$CRAFT" "${u#file://}" "$WORK/f3.cairn" format 3
expect_fail 4 "$CAIRN" backups verify "file://$WORK/f3.cairn"
case "$ERR" in *"inner format 3; this cairn reads up to 2: upgrade cairn"*) ;; *) fail "newer format: $ERR" ;; esac
note "format 1 without files, 2 with; format 3 refused with 'upgrade cairn'"
