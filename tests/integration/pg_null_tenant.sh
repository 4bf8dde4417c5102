#!/usr/bin/env bash
# TENANT backups of the records without a tenant (open-source Kestra before
# 0.23): --null-tenant backs up exactly those, and restoring it with
# --replace deletes and rewrites exactly those (tenant_id IS NULL), never
# another tenant's. A TENANT backup of a tenant without records is refused
# with the list of tenants that have some (--allow-empty forces it).
. "$(dirname "$0")/lib.sh"
need_pg

null_flow() { # DB ID — a flow without tenantId (key without a tenant part)
	pg "$1" -c "INSERT INTO flows (key, value, source_code) VALUES ('legacy.ns_$2_1',
		'{\"id\":\"$2\",\"namespace\":\"legacy.ns\",\"revision\":1,\"disabled\":false,\"deleted\":false}', 'id: $2')"
}
tenant_rows() { # DB → digest of every row that has a tenant, in every table with tenant_id
	pg "$1" -c "SELECT md5(string_agg(t || ':' || x, '|' ORDER BY t, x)) FROM (
		SELECT 'flows' t, f::text x FROM flows f WHERE tenant_id IS NOT NULL
		UNION ALL SELECT 'triggers', g::text FROM triggers g WHERE tenant_id IS NOT NULL
		UNION ALL SELECT 'dashboards', d::text FROM dashboards d WHERE tenant_id IS NOT NULL) s"
}

src=$(new_db src sample)
null_flow "$src" a
null_flow "$src" b
u=$(create TENANT --null-tenant --source "$(uri "$src")")
case "$u" in */backups/tenant/~null/backup-*.cairn) ;; *) fail "null-tenant series: $u" ;; esac
n=$(pg "$src" -c "SELECT count(*) FROM flows WHERE tenant_id IS NULL")
[ "$n" -ge 3 ] || fail "the sample should hold a flow without a tenant"
grep -q "Backup summary: .*FLOW: $n," "$WORK/create.err" || { cat "$WORK/create.err"; fail "not exactly the $n flows without a tenant"; }
"$CAIRN" backups info "$u" --output json | grep -q '"type":"TENANT"' || fail "info"

# the target holds other tenants' rows and one old flow without a tenant
dst=$(new_db dst sample)
null_flow "$dst" old
before=$(tenant_rows "$dst")
"$CAIRN" backups restore "$u" --replace --source "$(uri "$dst")" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err" >&2; fail "restore --replace of the null-tenant backup failed"; }
[ "$(tenant_rows "$dst")" = "$before" ] || fail "--replace of the null tenant touched another tenant"
nulls() { pg "$1" -c "SELECT string_agg(key, ',' ORDER BY key) FROM flows WHERE tenant_id IS NULL"; }
[ "$(nulls "$dst")" = "$(nulls "$src")" ] || fail "the null tenant's flows were not replaced exactly"
note "--null-tenant: backup and --replace scoped to tenant_id IS NULL"

expect_fail 2 "$CAIRN" backups restore "$u" --to-tenant main --source "$(uri "$dst")"

# a tenant without records: exit 5 naming the tenants that exist, nothing written
expect_fail 5 "$CAIRN" backups create TENANT --tenant mian --source "$(uri "$src")" --storage "$STORE"
for t in main acme beta "records without a tenant"; do
	case "$ERR" in *"$t"*) ;; *) fail "the error does not list '$t': $ERR" ;; esac
done
[ ! -d "$WORK/store/backups/tenant/mian" ] || [ -z "$(ls -A "$WORK/store/backups/tenant/mian")" ] ||
	fail "a backup of the empty tenant was written"
create TENANT --tenant mian --allow-empty --source "$(uri "$src")" >/dev/null
expect_fail 2 "$CAIRN" backups create FULL --allow-empty --source "$(uri "$src")" --storage "$STORE"
expect_fail 2 "$CAIRN" backups create TENANT --tenant main --null-tenant --source "$(uri "$src")" --storage "$STORE"
note "ok"
