#!/usr/bin/env bash
# Execution data (--include-data) and --resources, on create and on restore.
. "$(dirname "$0")/lib.sh"
need_pg

kinds_of() { "$CAIRN" backups info "$1" --storage "$STORE" --output json | python3 -c 'import json,sys; print(",".join(json.load(sys.stdin)["kinds"]))'; }
rows() { pg "$1" -c "SELECT count(*) FROM $2"; }

src=$(new_db src sample)
[ "$(rows "$src" executions)" = 2 ] && [ "$(rows "$src" logs)" = 1 ] && [ "$(rows "$src" metrics)" = 2 ] ||
	fail "the sample lacks its execution data"

# without --include-data: metadata only, as before
u=$(create FULL --source "$(uri "$src")")
case ",$(kinds_of "$u")," in *,EXECUTION,*|*,LOG,*|*,METRIC,*) fail "execution data backed up without --include-data" ;; esac
grep -q 'Backup summary: \[APP: 0, BANNER: 0, BINDING: 3,' "$WORK/create.err" || { cat "$WORK/create.err"; fail "summary line"; }
if grep -q 'EXECUTION' "$WORK/create.err"; then fail "the summary lists a kind the backup does not cover"; fi

# --include-data: the same snapshot, every row of every data table equal after a restore
u=$(create FULL --source "$(uri "$src")" --include-data)
grep -q 'EXECUTION: 2, .*LOG: 1, METRIC: 2,' "$WORK/create.err" || { cat "$WORK/create.err"; fail "data summary"; }
grep -q 'AUDIT_LOG: 0' "$WORK/create.err" || fail "a data kind without a table is not counted 0"
full=$(new_db full)
"$CAIRN" backups restore "$u" --source "$(uri "$full")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore with data"; }
[ "$(data_digest "$src")" = "$(data_digest "$full")" ] || fail "execution data differs after the restore"
# the Changes line names the kinds that had records and counts the empty ones
grep -q 'Changes: \[BINDING: 3 new, 0 changed, 0 unchanged, .*\] (and [0-9]* kinds without records)$' "$WORK/err" ||
	{ grep Changes "$WORK/err"; fail "Changes line"; }
if grep 'Changes:' "$WORK/err" | grep -q 'APP:'; then fail "the Changes line lists a kind without records"; fi
[ "$(digest "$src")" = "$(digest "$full")" ] || fail "metadata differs after a restore with data"
# run again: upserts by key, so LOG and METRIC rows are not duplicated
"$CAIRN" backups restore "$u" --source "$(uri "$full")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "second restore with data"; }
grep -q 'LOG: 0 new, 0 changed, 1 unchanged, METRIC: 0 new, 0 changed, 2 unchanged' "$WORK/err" ||
	{ cat "$WORK/err"; fail "a second restore changed execution data"; }
[ "$(data_digest "$src")" = "$(data_digest "$full")" ] || fail "a second restore duplicated execution data"
note "--include-data: executions, logs, metrics equal; a second restore duplicates nothing"

# TENANT --include-data: that tenant's executions only
u=$(create TENANT --tenant acme --source "$(uri "$src")" --include-data)
grep -q 'EXECUTION: 1,' "$WORK/create.err" || { cat "$WORK/create.err"; fail "TENANT data summary"; }
grep -q 'METRIC: 1,' "$WORK/create.err" || fail "TENANT metric count"
if grep -qE 'Backup summary: .*(SETTING|USER|TENANT_ACCESS):' "$WORK/create.err"; then
	fail "a TENANT summary lists instance-level kinds"
fi

# --resources on create: exactly those kinds
u=$(create FULL --source "$(uri "$src")" --resources 'flow, Trigger')
[ "$(kinds_of "$u")" = "FLOW,TRIGGER" ] || fail "--resources FLOW,TRIGGER covered $(kinds_of "$u")"
u=$(create FULL --source "$(uri "$src")" --resources FLOW --include-data)
[ "$(kinds_of "$u")" = "AUDIT_LOG,EXECUTION,FLOW,LOG,METRIC,TEST_RUN" ] || fail "--resources with --include-data covered $(kinds_of "$u")"
expect_fail 2 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" --resources FLOW,NOPE
case "$ERR" in *"unknown resource 'NOPE'; valid: APP, AUDIT_LOG,"*WORKER_GROUP*) ;; *) fail "unknown resource message: $ERR" ;; esac
expect_fail 2 "$CAIRN" backups create TENANT --tenant acme --source "$(uri "$src")" --storage "$STORE" --resources SETTING
case "$ERR" in *"SETTING is instance-level"*) ;; *) fail "TENANT --resources SETTING: $ERR" ;; esac
expect_fail 2 "$CAIRN" backups verify "$u" --storage "$STORE" --resources FLOW
note "--resources on create: exact kinds; unknown and misplaced names refused (exit 2)"

# --resources on restore: only those kinds written, and --replace only clears them
u=$(create FULL --source "$(uri "$src")" --include-data)
part=$(new_db part)
"$CAIRN" backups restore "$u" --source "$(uri "$part")" --storage "$STORE" --resources FLOW >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore --resources FLOW"; }
[ "$(rows "$part" flows)" = "$(rows "$src" flows)" ] || fail "flows not restored"
[ "$(rows "$part" triggers)" = 0 ] && [ "$(rows "$part" executions)" = 0 ] || fail "restore --resources FLOW wrote other kinds"
grep -q 'Restore summary: \[FLOW: [0-9]*\]' "$WORK/err" || { cat "$WORK/err"; fail "restore summary of a --resources restore"; }
pg "$part" -c "INSERT INTO triggers (key, value) VALUES ('keep_me', '{\"namespace\":\"n\",\"flowId\":\"f\",\"triggerId\":\"t\",\"tenantId\":\"main\"}')" >/dev/null
"$CAIRN" backups restore "$u" --source "$(uri "$part")" --storage "$STORE" --resources LOG,FLOW --replace >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore --resources LOG,FLOW --replace"; }
[ "$(pg "$part" -c "SELECT count(*) FROM triggers WHERE key = 'keep_me'")" = 1 ] || fail "--replace cleared a kind --resources did not name"
[ "$(rows "$part" logs)" = 1 ] && [ "$(rows "$part" executions)" = 0 ] || fail "restore --resources LOG"
u=$(create FULL --source "$(uri "$src")")
expect_fail 2 "$CAIRN" backups restore "$u" --source "$(uri "$part")" --storage "$STORE" --resources EXECUTION
case "$ERR" in *"this backup holds no EXECUTION; it holds APP, BANNER,"*) ;; *) fail "restore of a kind not in the backup: $ERR" ;; esac
expect_fail 2 "$CAIRN" backups restore "$u" --source "$(uri "$part")" --storage "$STORE" --resources FLW
note "--resources on restore: only the named kinds written or replaced"

# --since: what it accepts; it needs execution data to limit
for bad in yesterday 2026-02-30 2026-1-5 '2026-01-05T25:00:00Z' 2026-01-05Z 1969-12-31 -3d; do
	expect_fail 2 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" --include-data --since "$bad"
done
case "$ERR" in *"--since needs a UTC date"*) ;; *) fail "--since message: $ERR" ;; esac
expect_fail 2 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" --since 30d
case "$ERR" in *"add --include-data"*) ;; *) fail "--since without execution data: $ERR" ;; esac
note "--since: malformed or impossible dates and a window over no execution data refused (exit 2)"

# --since on PostgreSQL: executions by start_date, logs and metrics by timestamp; metadata whole
u=$(create FULL --source "$(uri "$src")" --include-data --since 2025-10-01T05:00:00Z)
grep -q 'EXECUTION: 1, .*LOG: 1, METRIC: 1,' "$WORK/create.err" || { cat "$WORK/create.err"; fail "--since summary"; }
grep -q "FLOW: $(rows "$src" flows)," "$WORK/create.err" || fail "--since limited the metadata"
win=$(new_db win)
"$CAIRN" backups restore "$u" --source "$(uri "$win")" --storage "$STORE" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "restore of a --since backup"; }
[ "$(pg "$win" -c "SELECT key FROM executions")" = 7Yc4kN1dWrQ2 ] || fail "--since kept the wrong executions"
u=$(create FULL --source "$(uri "$src")" --include-data --since 2020-01-01)
grep -q 'EXECUTION: 2, .*METRIC: 2,' "$WORK/create.err" || fail "--since long ago dropped rows"
note "--since on PostgreSQL: the window by each kind's time column"
