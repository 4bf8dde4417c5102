#!/usr/bin/env bash
# Restoring into a target whose schema is missing or incompatible, or that
# rejects a record half way, is refused with the reason and leaves the
# target exactly as it was. Backing up what is not a Kestra database (no
# Kestra tables, a missing schema) is refused before anything is written.
. "$(dirname "$0")/lib.sh"
need_pg

src=$(new_db src sample)
u=$(create FULL --source "$(uri "$src")")

# backups in the store: a refused create must leave none behind
n_backups() { find "$WORK/store" -type f 2>/dev/null | wc -l; }

# no Kestra schema at all: neither backup nor restore touches it
empty="${TEST}_empty"
pg postgres -c "DROP DATABASE IF EXISTS $empty" -c "CREATE DATABASE $empty" >/dev/null
n=$(n_backups)
expect_fail 5 "$CAIRN" backups create FULL --source "$(uri "$empty")" --storage "$STORE" --no-progress
case "$ERR" in *"database '$empty' schema 'public' has no Kestra tables"*"not a Kestra database"*) ;;
	*) fail "backup of an empty database: $ERR" ;; esac
[ "$(n_backups)" = "$n" ] || fail "a refused backup left a file in the store"
note "backup of an empty database: exit 5, '$ERR'"
expect_fail 5 "$CAIRN" backups restore "$u" --source "$(uri "$empty")" --storage "$STORE"
case "$ERR" in *"database '$empty' schema 'public'"*"not a Kestra database"*) ;;
	*) fail "restore into an empty database: $ERR" ;; esac
[ "$(pg "$empty" -c "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n
	ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')")" = 0 ] ||
	fail "a refused restore created something"
note "restore into an empty database: exit 5, '$ERR'"

# the option 'schema' naming a schema that does not exist, on a Kestra database
expect_fail 5 "$CAIRN" backups create FULL --source "$(uri "$src")" -o schema=nosuch --storage "$STORE" --no-progress
case "$ERR" in *"database '$src' has no schema 'nosuch'"*) ;; *) fail "backup, missing schema: $ERR" ;; esac
[ "$(n_backups)" = "$n" ] || fail "a refused backup left a file in the store"
expect_fail 5 "$CAIRN" backups restore "$u" --source "$(uri "$src")" -o schema=nosuch --storage "$STORE"
case "$ERR" in *"database '$src' has no schema 'nosuch'"*) ;; *) fail "restore, missing schema: $ERR" ;; esac
note "missing schema: exit 5, '$ERR'"

# a schema that exists but is not Kestra's (Kestra's tables live in public)
pg "$src" -c "CREATE SCHEMA other"
expect_fail 5 "$CAIRN" backups create FULL --source "$(uri "$src")" -o schema=other --storage "$STORE" --no-progress
case "$ERR" in *"database '$src' schema 'other' has no Kestra tables"*) ;; *) fail "backup, other schema: $ERR" ;; esac

# a Kestra schema without a single row backs up fine (and restores)
zero=$(new_db zero)
uz=$(create FULL --source "$(uri "$zero")")
[ -n "$uz" ] || fail "no backup of a Kestra database without rows"
"$CAIRN" backups restore "$uz" --source "$(uri "$zero")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore of an empty Kestra backup failed"; }
[ "$(total_rows "$zero")" = 0 ] || fail "rows appeared in the empty Kestra database"
note "Kestra schema without rows: backup and restore ok"

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
grep -q "BINDING: 3 records skipped: the target has no table 'bindings'" "$WORK/err" || fail "no warning for the missing table"
if grep -q "APP:.*no table" "$WORK/err"; then fail "a warning for a missing table the backup has no record for"; fi
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
