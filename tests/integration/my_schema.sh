#!/usr/bin/env bash
# MariaDB target: restoring into a database whose schema is missing or
# incompatible, or that rejects a record half way, is refused with the
# reason and leaves the target exactly as it was; backing up what is not a
# Kestra database (no Kestra tables, no such database) is refused before
# anything is written (see pg_schema.sh).
. "$(dirname "$0")/lib.sh"
need_my
# See my_roundtrip.sh: GCC 12's LeakSanitizer and the TLS of an unused libpq.
case ",${ASAN_OPTIONS:-}," in *intercept_tls_get_addr*) ;; *)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}intercept_tls_get_addr=0" ;; esac

src=$(new_my_db src sample)
u=$(create FULL --source "$(myuri "$src")")

# backups in the store: a refused create must leave none behind
n_backups() { find "$WORK/store" -type f 2>/dev/null | wc -l; }

# ------------------------------------------------------------------ no Kestra schema at all
# neither backup nor restore touches it
empty="${TEST}_empty"
my mysql "DROP DATABASE IF EXISTS \`$empty\`; CREATE DATABASE \`$empty\`" >/dev/null
n=$(n_backups)
expect_fail 5 "$CAIRN" backups create FULL --source "$(myuri "$empty")" --storage "$STORE" --no-progress
case "$ERR" in *"database '$empty' has no Kestra tables"*"not a Kestra database"*) ;;
	*) fail "backup of an empty database: $ERR" ;; esac
[ "$(n_backups)" = "$n" ] || fail "a refused backup left a file in the store"
note "backup of an empty database: exit 5, '$ERR'"
expect_fail 5 "$CAIRN" backups restore "$u" --source "$(myuri "$empty")" --storage "$STORE"
case "$ERR" in *"database '$empty' has no Kestra tables"*"not a Kestra database"*) ;;
	*) fail "restore into an empty database: $ERR" ;; esac
[ "$(my "$empty" "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")" = 0 ] ||
	fail "a refused restore created tables"
note "restore into an empty database: exit 5, '$ERR'"

# ------------------------------------------------------------------ a database that does not exist
expect_fail 5 "$CAIRN" backups create FULL --source "$(myuri "${TEST}_nosuch")" --storage "$STORE" --no-progress
case "$ERR" in *"database '${TEST}_nosuch' does not exist"*) ;; *) fail "backup, missing database: $ERR" ;; esac
[ "$(n_backups)" = "$n" ] || fail "a refused backup left a file in the store"
expect_fail 5 "$CAIRN" backups restore "$u" --source "$(myuri "${TEST}_nosuch")" --storage "$STORE"
case "$ERR" in *"database '${TEST}_nosuch' does not exist"*) ;; *) fail "restore, missing database: $ERR" ;; esac
note "missing database: exit 5, '$ERR'"

# ------------------------------------------------------------------ a Kestra database without a single row
zero=$(new_my_db zero)
uz=$(create FULL --source "$(myuri "$zero")")
[ -n "$uz" ] || fail "no backup of a Kestra database without rows"
"$CAIRN" backups restore "$uz" --source "$(myuri "$zero")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore of an empty Kestra backup failed"; }
[ "$(my_total_rows "$zero")" = 0 ] || fail "rows appeared in the empty Kestra database"
note "Kestra database without rows: backup and restore ok"

# ------------------------------------------------------------------ a table without a column of the backup
# dashboards come third (after bindings and blueprints, already written in the
# transaction when the missing column is found): all of it must be rolled back
old=$(new_my_db old)
my "$old" "ALTER TABLE dashboards DROP COLUMN source_code"
expect_fail 5 "$CAIRN" backups restore "$u" --source "$(myuri "$old")" --storage "$STORE"
case "$ERR" in *"dashboards"*"source_code"*) ;; *) fail "missing-column message: $ERR" ;; esac
[ "$(my_total_rows "$old")" = 0 ] || fail "an incompatible restore wrote rows"
note "missing column: exit 5, '$ERR', zero rows"

# ------------------------------------------------------------------ a record the target rejects half way
# The target already holds the sample, minus acme's triggers, and refuses them
# (CHECK). --replace deletes every table's rows and writes flows, settings, …
# before the first acme trigger fails: the target must be exactly as before.
strict=$(new_my_db strict sample)
my "$strict" "DELETE FROM triggers WHERE tenant_id = 'acme';
	ALTER TABLE triggers ADD CONSTRAINT no_acme CHECK (JSON_VALUE(\`value\`, '\$.tenantId') <> 'acme')"
[ "$(my "$strict" "SELECT COUNT(*) FROM triggers")" -gt 0 ] || fail "no trigger left to check the rollback with"
first=$(my "$src" "SELECT \`key\` FROM triggers WHERE tenant_id = 'acme' ORDER BY \`key\` LIMIT 1")
[ -n "$first" ] || fail "the sample has no acme trigger"
before=$(my_digest "$strict")
rows_before=$(my_total_rows "$strict")
expect_fail 5 "$CAIRN" backups restore "$u" --replace --source "$(myuri "$strict")" --storage "$STORE"
case "$ERR" in *"'$first'"*"triggers"*) ;; *) fail "rejected-record message (expected the key '$first'): $ERR" ;; esac
case "$ERR" in *no_acme*|*CONSTRAINT*|*"check"*|*"CHECK"*) ;; *) fail "rejected-record message does not give the reason: $ERR" ;; esac
[ "$(my_digest "$strict")" = "$before" ] || fail "a failed restore changed the target"
[ "$(my_total_rows "$strict")" = "$rows_before" ] || fail "a failed restore changed the row count"
note "rejected record: exit 5, '$ERR', target unchanged ($rows_before rows)"

# the same without --replace (upsert): nothing written either
before=$(my_digest "$strict")
expect_fail 5 "$CAIRN" backups restore "$u" --source "$(myuri "$strict")" --storage "$STORE"
case "$ERR" in *"'$first'"*) ;; *) fail "rejected-record message (upsert): $ERR" ;; esac
[ "$(my_digest "$strict")" = "$before" ] || fail "a failed upsert restore changed the target"
note "ok"
