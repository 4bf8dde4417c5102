#!/usr/bin/env bash
# Restore into a non-empty database: upsert, --replace, --dry-run, --to-tenant.
. "$(dirname "$0")/lib.sh"
need_pg

src=$(new_db src sample)
dst=$(new_db dst sample)
u=$(create FULL --source "$(uri "$src")")
t=$(create TENANT --tenant acme --source "$(uri "$src")")

# drift the target: change one flow, add a flow the backup does not have
pg "$dst" -c "UPDATE flows SET value = jsonb_set(value, '{description}', '\"drifted\"') WHERE key = (SELECT min(key) FROM flows WHERE tenant_id = 'acme')"
pg "$dst" -c "INSERT INTO flows (key, value, source_code) VALUES ('acme_extra.ns_extra_1', '{\"id\":\"extra\",\"namespace\":\"extra.ns\",\"revision\":1,\"tenantId\":\"acme\",\"deleted\":false}', 'id: extra')"
before=$(digest "$dst")

# --dry-run: reports one changed flow, writes nothing
"$CAIRN" backups restore "$u" --dry-run --source "$(uri "$dst")" --storage "$STORE" --output json >"$WORK/dry.json" 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "dry run failed"; }
[ "$(digest "$dst")" = "$before" ] || fail "--dry-run wrote to the target"
python3 - "$WORK/dry.json" <<'PY' || fail "dry-run report is wrong"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["dry_run"] is True, r
f = r["kinds"]["FLOW"]
assert f["changed"] == 1 and f["new"] == 0 and f["unchanged"] == f["records"] - 1, f
assert all(k["changed"] == 0 and k["new"] == 0 for n, k in r["kinds"].items() if n != "FLOW"), r
PY

# upsert: the drifted flow is restored, the extra flow stays
"$CAIRN" backups restore "$u" --source "$(uri "$dst")" --storage "$STORE" >/dev/null 2>&1 || fail "restore failed"
[ "$(pg "$dst" -c "SELECT count(*) FROM flows WHERE value->>'description' = 'drifted'")" = 0 ] || fail "drift not repaired"
[ "$(pg "$dst" -c "SELECT count(*) FROM flows WHERE key = 'acme_extra.ns_extra_1'")" = 1 ] || fail "upsert deleted a row"

# --replace of a TENANT backup: the extra acme flow goes, other tenants stay
pg "$dst" -c "INSERT INTO flows (key, value, source_code) VALUES ('beta_extra.ns_extra_1', '{\"id\":\"extra\",\"namespace\":\"extra.ns\",\"revision\":1,\"tenantId\":\"beta\",\"deleted\":false}', 'id: extra')"
"$CAIRN" backups restore "$t" --replace --source "$(uri "$dst")" --storage "$STORE" >/dev/null 2>&1 || fail "replace failed"
[ "$(pg "$dst" -c "SELECT count(*) FROM flows WHERE key = 'acme_extra.ns_extra_1'")" = 0 ] || fail "--replace kept a row of the tenant"
[ "$(pg "$dst" -c "SELECT count(*) FROM flows WHERE key = 'beta_extra.ns_extra_1'")" = 1 ] || fail "--replace touched another tenant"
a=$(pg "$src" -c "SELECT md5(string_agg(x::text, '|' ORDER BY key)) FROM flows x WHERE tenant_id = 'acme'")
b=$(pg "$dst" -c "SELECT md5(string_agg(x::text, '|' ORDER BY key)) FROM flows x WHERE tenant_id = 'acme'")
[ "$a" = "$b" ] || fail "--replace result differs from the backup"

# --to-tenant: acme's records land in tenant 'gamma', keys and tenantId rewritten
g=$(new_db gamma)
"$CAIRN" backups restore "$t" --to-tenant gamma --source "$(uri "$g")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "--to-tenant failed"; }
grep -q "Restoring the records of tenant acme into tenant gamma (--to-tenant)" "$WORK/err" ||
	{ cat "$WORK/err"; fail "restore does not name the target tenant"; }
n_src=$(pg "$src" -c "SELECT count(*) FROM flows WHERE tenant_id = 'acme'")
[ "$(pg "$g" -c "SELECT count(*) FROM flows WHERE tenant_id = 'gamma' AND value->>'tenantId' = 'gamma' AND key LIKE 'gamma\_%'")" = "$n_src" ] ||
	fail "--to-tenant did not rewrite every flow"
[ "$(pg "$g" -c "SELECT count(*) FROM flows WHERE key LIKE 'acme%' OR value::text LIKE '%\"tenantId\": \"acme\"%'")" = 0 ] ||
	fail "--to-tenant left acme behind"
expect_fail 2 "$CAIRN" backups restore "$u" --to-tenant gamma --source "$(uri "$g")" --storage "$STORE"
note "ok"
