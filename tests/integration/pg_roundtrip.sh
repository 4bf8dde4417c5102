#!/usr/bin/env bash
# FULL and TENANT backups restored into empty databases hold the very same rows.
. "$(dirname "$0")/lib.sh"
need_pg

src=$(new_db src sample)
full_dst=$(new_db full_dst)
tenant_dst=$(new_db tenant_dst)

# FULL: every row of every metadata table, every column (generated ones
# recomputed by the target) equal.
u=$(create FULL --source "$(uri "$src")")
case "$u" in */backups/full/backup-*.cairn) ;; *) fail "unexpected backup URI '$u'" ;; esac
grep -q 'Backup summary: \[BINDING: 3, BLUEPRINT: 2,' "$WORK/create.err" || fail "summary line missing"
grep -q 'Backup instance created in [0-9]* ms' "$WORK/create.err" || fail "elapsed line missing"
"$CAIRN" backups restore "$u" --source "$(uri "$full_dst")" --storage "$STORE" >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore failed"; }
grep -qx "Backup restored from URI: $u" "$WORK/out" || fail "restore result line missing"
for l in "Restoring $u" "Restoring FULL backup from Cairn version" "Backup summary: \[" "Restore summary: \["; do
	grep -q "$l" "$WORK/err" || fail "restore log line '$l' missing"
done
[ "$(digest "$src")" = "$(digest "$full_dst")" ] || fail "FULL restore differs from the source"
[ "$(total_rows "$src")" -gt 40 ] || fail "sample data too small to mean anything"
note "FULL round trip: $(total_rows "$full_dst") rows equal"

# the real columns byte for byte, the JSON as JSON
for t in flows dashboards; do
	a=$(pg "$src" -c "SELECT md5(string_agg(key || value::text || source_code, '' ORDER BY key)) FROM $t")
	b=$(pg "$full_dst" -c "SELECT md5(string_agg(key || value::text || source_code, '' ORDER BY key)) FROM $t")
	[ "$a" = "$b" ] || fail "$t source_code differs"
done

# TENANT: only that tenant's rows of tenant-scoped kinds; no users, tenants, settings
u=$(create TENANT --tenant acme --source "$(uri "$src")")
case "$u" in */backups/tenant/acme/backup-*.cairn) ;; *) fail "unexpected tenant backup URI '$u'" ;; esac
"$CAIRN" backups restore "$u" --source "$(uri "$tenant_dst")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "tenant restore failed"; }
for t in users tenants settings tenant_access; do
	[ "$(pg "$tenant_dst" -c "SELECT count(*) FROM $t")" = 0 ] || fail "TENANT backup restored $t"
done
for t in flows triggers dashboards; do
	a=$(pg "$src" -c "SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY key), '')) FROM $t x WHERE tenant_id = 'acme'")
	b=$(pg "$tenant_dst" -c "SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY key), '')) FROM $t x")
	[ "$a" = "$b" ] || fail "TENANT restore of $t differs"
	[ "$(pg "$tenant_dst" -c "SELECT count(*) FROM $t WHERE tenant_id IS DISTINCT FROM 'acme'")" = 0 ] ||
		fail "$t holds other tenants"
done
[ "$(pg "$tenant_dst" -c "SELECT count(*) FROM flows")" -gt 0 ] || fail "tenant acme has no flows in the sample"
note "TENANT round trip equal"

# two backups in the same second never overwrite each other
u1=$(create FULL --source "$(uri "$src")")
u2=$(create FULL --source "$(uri "$src")")
[ "$u1" != "$u2" ] || fail "two backups share a name"
"$CAIRN" backups verify "$u1" --storage "$STORE" >/dev/null 2>&1 || fail "verify $u1"
"$CAIRN" backups verify "$u2" --storage "$STORE" >/dev/null 2>&1 || fail "verify $u2"

# files are private
perm=$(stat -c %a "$WORK/store/${u1#"$STORE/"}")
[ "$perm" = 600 ] || fail "backup file mode is $perm, not 600"
note "ok"
