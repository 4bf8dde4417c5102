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
grep -q 'Backup summary: .*BINDING: 3, BLUEPRINT: 2,' "$WORK/create.err" || fail "summary line missing"
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

# the zstd level: given, it is used (19 packs this data smaller than 1), and
# the archive restores the same; a bad one is a usage error, from either place
u19=$(create FULL --source "$(uri "$src")" --compression-level 19)
u1=$(create FULL --source "$(uri "$src")" --compression-level 1)
s19=$(stat -c %s "$WORK/store/${u19#"$STORE/"}"); s1=$(stat -c %s "$WORK/store/${u1#"$STORE/"}")
[ "$s19" -lt "$s1" ] || fail "level 19 ($s19 bytes) is not smaller than level 1 ($s1 bytes)"
lvl_dst=$(new_db lvl_dst)
"$CAIRN" backups restore "$u19" --source "$(uri "$lvl_dst")" --storage "$STORE" >/dev/null 2>&1 ||
	fail "restore of the level-19 backup failed"
[ "$(digest "$src")" = "$(digest "$lvl_dst")" ] || fail "level-19 restore differs from the source"
expect_fail 2 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" --compression-level 20
printf '[backup]\ncompression-level = fast\n' >"$WORK/lvl.conf"
expect_fail 2 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" --config "$WORK/lvl.conf"
case "$ERR" in *"[backup] compression-level"*) ;; *) fail "bad configured level not named: $ERR" ;; esac
printf '[backup]\ncompression-level = 19\n' >"$WORK/lvl.conf"
uc=$("$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" --config "$WORK/lvl.conf" --no-progress 2>/dev/null)
uc=${uc#Backup created: }
[ "$(stat -c %s "$WORK/store/${uc#"$STORE/"}")" -lt "$s1" ] || fail "[backup] compression-level = 19 was not used"
note "ok"
