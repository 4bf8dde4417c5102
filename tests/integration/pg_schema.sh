#!/usr/bin/env bash
# Restoring into a target whose schema is missing or incompatible, or that
# rejects a record half way, is refused with the reason and leaves the
# target exactly as it was.
. "$(dirname "$0")/lib.sh"
need_pg

src=$(new_db src sample)
u=$(create FULL --source "$(uri "$src")")

# no Kestra schema at all
empty="${TEST}_empty"
pg postgres -c "DROP DATABASE IF EXISTS $empty" -c "CREATE DATABASE $empty" >/dev/null
expect_fail 5 "$CAIRN" backups restore "$u" --source "$(uri "$empty")" --storage "$STORE"
case "$ERR" in *"no Kestra schema"*) ;; *) fail "missing-schema message: $ERR" ;; esac

# a table without a column the backup has
old=$(new_db old)
pg "$old" -c "ALTER TABLE dashboards DROP COLUMN source_code"
expect_fail 5 "$CAIRN" backups restore "$u" --source "$(uri "$old")" --storage "$STORE"
case "$ERR" in *"dashboards"*"source_code"*) ;; *) fail "missing-column message: $ERR" ;; esac
[ "$(total_rows "$old")" = 0 ] || fail "an incompatible restore wrote rows"

# a target without a kind's table (an edition or schema version without it):
# that kind is skipped with a warning, everything else restored
oss=$(new_db oss)
pg "$oss" -c "DROP TABLE bindings" -c "DROP TABLE templates"
"$CAIRN" backups restore "$u" --source "$(uri "$oss")" --storage "$STORE" --output json >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore into a target without some tables failed"; }
grep -q "BINDING: the target has no table 'bindings'" "$WORK/err" || fail "no warning for the missing table"
python3 - "$WORK/out" <<'PY' || fail "skipped counts: $(cat "$WORK/out")"
import json, sys
k = json.load(open(sys.argv[1]))["kinds"]
assert k["BINDING"]["skipped"] == k["BINDING"]["records"] == 3, k["BINDING"]
assert k["TEMPLATE"]["skipped"] == k["TEMPLATE"]["records"] > 0, k["TEMPLATE"]
assert k["FLOW"]["skipped"] == 0 and k["FLOW"]["new"] == k["FLOW"]["records"], k["FLOW"]
PY
[ "$(pg "$oss" -c "SELECT count(*) FROM flows")" = "$(pg "$src" -c "SELECT count(*) FROM flows")" ] || fail "flows not restored"

# a record the target rejects, after others were written: all rolled back
strict=$(new_db strict sample)
pg "$strict" -c "DELETE FROM triggers" -c "ALTER TABLE triggers ADD CONSTRAINT no_acme CHECK (value->>'tenantId' <> 'acme')"
before=$(digest "$strict")
expect_fail 5 "$CAIRN" backups restore "$u" --replace --source "$(uri "$strict")" --storage "$STORE"
case "$ERR" in *"no_acme"*|*"check constraint"*) ;; *) fail "rejected-record message: $ERR" ;; esac
[ "$(digest "$strict")" = "$before" ] || fail "a failed restore changed the target"
note "ok"
