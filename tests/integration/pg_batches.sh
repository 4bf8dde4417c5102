#!/usr/bin/env bash
# The set-based restore (plugins/postgresql/postgresql_restore.c): COPY
# straight into an empty table, staging + upsert into a table holding rows,
# exact outcomes for a key the archive holds twice or thrice (one batch,
# split into runs, the direct COPY falling back to the upsert), dry runs of
# both paths, and a record the target rejects named by its key on both paths
# with nothing written.
. "$(dirname "$0")/lib.sh"
need_pg

src=$(new_db src sample)
u=$(create FULL --source "$(uri "$src")")
U=${u#file://}

restore_json() { # URI DB [args] → report in $WORK/r.json
	local from=$1 db=$2; shift 2
	"$CAIRN" backups restore "$from" --source "$(uri "$db")" --storage "$STORE" --output json "$@" \
		>"$WORK/r.json" 2>"$WORK/err" || { cat "$WORK/err" >&2; fail "restore into $db failed"; }
}
outcomes() { # KIND → "records new changed unchanged"
	python3 -c 'import json,sys; k=json.load(open(sys.argv[1]))["kinds"][sys.argv[2]]
print(k["records"], k["new"], k["changed"], k["unchanged"])' "$WORK/r.json" "$1"
}
nflows=$(pg "$src" -c "SELECT count(*) FROM flows")

# dry run into an empty target: every record NEW, nothing written (the direct COPY, rolled back)
empty=$(new_db empty)
restore_json "$u" "$empty" --dry-run
[ "$(outcomes FLOW)" = "$nflows $nflows 0 0" ] || fail "dry run into empty: $(outcomes FLOW)"
[ "$(total_rows "$empty")" = 0 ] || fail "a dry run wrote rows"

# into the empty target, then again into the same (now full) one: all NEW, then all UNCHANGED
restore_json "$u" "$empty"
[ "$(outcomes FLOW)" = "$nflows $nflows 0 0" ] || fail "restore into empty: $(outcomes FLOW)"
[ "$(digest "$src")" = "$(digest "$empty")" ] || fail "restore into empty differs from the source"
restore_json "$u" "$empty"
[ "$(outcomes FLOW)" = "$nflows 0 0 $nflows" ] || fail "restore again: $(outcomes FLOW)"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))
assert all(k["new"] == 0 and k["changed"] == 0 for k in r["kinds"].values()), r' "$WORK/r.json" ||
	fail "a restore into a target holding the same rows changed something"
[ "$(digest "$src")" = "$(digest "$empty")" ] || fail "restore again changed the target"
note "empty target: all NEW by COPY; again: all UNCHANGED"

# one key three times: as backed up, then changed, then the same change again
k=$(pg "$src" -c "SELECT key FROM flows ORDER BY key LIMIT 1")
recsql="SELECT json_build_object('key', key, 'tenant', tenant_id, 'columns', json_build_array(
	json_build_array('key', 1, key), json_build_array('value', 2, value || '{\"description\": \"twice\"}'),
	json_build_array('source_code', 1, source_code))) FROM flows WHERE key = '$k'"
rec=$(pg "$src" -c "$recsql")
"$CRAFT" "$U" "$WORK/dup2.cairn" addrec FLOW "$rec"
"$CRAFT" "$WORK/dup2.cairn" "$WORK/dup3.cairn" addrec FLOW "$rec"
d=$(new_db dup)
restore_json "file://$WORK/dup3.cairn" "$d"
[ "$(outcomes FLOW)" = "$((nflows + 2)) $nflows 1 1" ] || fail "key thrice into empty: $(outcomes FLOW)"
[ "$(pg "$d" -c "SELECT value->>'description' FROM flows WHERE key = '$k'")" = twice ] ||
	fail "the last record of the key did not win"
[ "$(pg "$d" -c "SELECT count(*) FROM flows")" = "$nflows" ] || fail "a key twice made two rows"
full=$(new_db full sample)
restore_json "file://$WORK/dup3.cairn" "$full" --dry-run
[ "$(outcomes FLOW)" = "$((nflows + 2)) 0 1 $((nflows + 1))" ] || fail "key thrice, dry run into full: $(outcomes FLOW)"
restore_json "file://$WORK/dup3.cairn" "$full"
[ "$(outcomes FLOW)" = "$((nflows + 2)) 0 1 $((nflows + 1))" ] || fail "key thrice into full: $(outcomes FLOW)"
[ "$(pg "$full" -c "SELECT value->>'description' FROM flows WHERE key = '$k'")" = twice ] ||
	fail "the changed record was not written into the full target"
note "a key thrice: NEW, CHANGED, UNCHANGED into empty; UNCHANGED, CHANGED, UNCHANGED into full"

# a record the target rejects (its revision is not a number: the generated column fails)
bad='{"key":"main_evil.ns_bad_1","tenant":"main","columns":[["key",1,"main_evil.ns_bad_1"],["value",2,{"id":"bad","namespace":"evil.ns","revision":"abc","tenantId":"main","deleted":false}],["source_code",1,"id: bad"]]}'
"$CRAFT" "$U" "$WORK/bad.cairn" addrec FLOW "$bad"
for target in empty_bad full_bad; do
	case $target in empty_bad) db=$(new_db "$target") ;; *) db=$(new_db "$target" sample) ;; esac
	before=$(digest "$db")
	expect_fail 5 "$CAIRN" backups restore "file://$WORK/bad.cairn" --source "$(uri "$db")" --storage "$STORE"
	case "$ERR" in *"record 'main_evil.ns_bad_1' into table 'flows'"*"invalid input syntax for type integer"*) ;;
		*) fail "$target: the message does not name the record: $ERR" ;; esac
	[ "$(digest "$db")" = "$before" ] || fail "$target: the failed restore changed the target"
done
note "a rejected record is named (COPY's line, the upsert retried one by one), nothing written"
note "ok"
