#!/usr/bin/env bash
# MariaDB: FULL and TENANT backups restored into empty databases hold the very
# same rows; restoring twice changes nothing; --dry-run writes nothing;
# --replace; a wrong key writes nothing; and PostgreSQL → MariaDB → PostgreSQL
# keeps every record.
. "$(dirname "$0")/lib.sh"
need_my
# GCC 12's LeakSanitizer (Debian 12, glibc 2.36) can crash at exit ("Tracer caught
# signal 11", exit 1) walking the dynamic TLS of libraries that a loaded but unused
# plugin pulled in (libpq's GnuTLS/p11-kit/com_err here, when the source is MariaDB).
# Without the __tls_get_addr interception the leak check still runs; it just does
# not track those blocks separately.
case ",${ASAN_OPTIONS:-}," in *intercept_tls_get_addr*) ;; *)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}intercept_tls_get_addr=0" ;; esac

src=$(new_my_db src sample)
full_dst=$(new_my_db full_dst)
tenant_dst=$(new_my_db tenant_dst)

# ------------------------------------------------------------------ FULL
u=$(create FULL --source "$(myuri "$src")")
case "$u" in */backups/full/backup-*.cairn) ;; *) fail "unexpected backup URI '$u'" ;; esac
grep -q 'Backup summary: .*BINDING: 3, BLUEPRINT: 2, CREDENTIAL: 0, DASHBOARD: 2, FLOW: 11,' "$WORK/create.err" ||
	{ cat "$WORK/create.err" >&2; fail "summary line missing"; }
"$CAIRN" backups info "$u" --storage "$STORE" >"$WORK/info" 2>&1 || { cat "$WORK/info"; fail "info failed"; }
grep -qi 'mariadb 1[0-9]\.' "$WORK/info" || { cat "$WORK/info"; fail "info does not name the backend"; }
grep -q '1\.57' "$WORK/info" || { cat "$WORK/info"; fail "info does not give the schema version"; }
"$CAIRN" backups restore "$u" --source "$(myuri "$full_dst")" --storage "$STORE" >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore failed"; }
grep -qx "Backup restored from URI: $u" "$WORK/out" || fail "restore result line missing"
[ "$(my_digest "$src")" = "$(my_digest "$full_dst")" ] || fail "FULL restore differs from the source"
[ "$(my_total_rows "$src")" -gt 40 ] || fail "sample data too small to mean anything"
[ "$(my_total_rows "$src")" = "$(my_total_rows "$full_dst")" ] || fail "row counts differ"
# the real columns byte for byte (the JSON text too: MariaDB keeps it as written)
for t in flows dashboards; do
	q="SELECT MD5(GROUP_CONCAT(CONCAT_WS('#', HEX(\`key\`), HEX(\`value\`), HEX(source_code)) ORDER BY \`key\` SEPARATOR '|')) FROM $t"
	[ "$(my "$src" "$q")" = "$(my "$full_dst" "$q")" ] || fail "$t real columns differ"
done
[ "$(my "$full_dst" "SELECT LENGTH(source_code) FROM flows WHERE \`key\` = 'main_company.team.etl_big_flow_1'")" -gt 50000 ] ||
	fail "the large flow lost its source code"
[ "$(my "$full_dst" "SELECT COUNT(*) FROM flows WHERE JSON_VALUE(\`value\`, '\$.description') LIKE '%🚀%'")" = 2 ] ||
	fail "the emoji flow did not survive"
note "FULL round trip: $(my_total_rows "$full_dst") rows equal"

# restoring the same backup again: every record UNCHANGED, nothing moves
before=$(my_digest "$full_dst")
"$CAIRN" backups restore "$u" --source "$(myuri "$full_dst")" --storage "$STORE" --output json \
	>"$WORK/again.json" 2>"$WORK/err" || { cat "$WORK/err"; fail "second restore failed"; }
[ "$(my_digest "$full_dst")" = "$before" ] || fail "second restore changed the target"
python3 - "$WORK/again.json" <<'PY' || fail "second restore is not all unchanged"
import json, sys
r = json.load(open(sys.argv[1]))
for n, k in r["kinds"].items():
    assert k["new"] == 0 and k["changed"] == 0 and k["unchanged"] == k["records"], (n, k)
PY
note "restore twice: all unchanged"

# ------------------------------------------------------------------ TENANT
t=$(create TENANT --tenant acme --source "$(myuri "$src")")
case "$t" in */backups/tenant/acme/backup-*.cairn) ;; *) fail "unexpected tenant backup URI '$t'" ;; esac
"$CAIRN" backups restore "$t" --source "$(myuri "$tenant_dst")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "tenant restore failed"; }
for tb in users tenants settings tenant_access; do
	[ "$(my "$tenant_dst" "SELECT COUNT(*) FROM \`$tb\`")" = 0 ] || fail "TENANT backup restored $tb"
done
for tb in flows triggers dashboards kv_metadata namespace_file_metadata roles bindings secrets; do
	q="SELECT MD5(COALESCE(GROUP_CONCAT(CONCAT_WS('#', HEX(\`key\`), HEX(JSON_NORMALIZE(\`value\`))) ORDER BY \`key\` SEPARATOR '|'), '')) FROM \`$tb\`"
	[ "$(my "$src" "$q WHERE tenant_id = 'acme'")" = "$(my "$tenant_dst" "$q")" ] ||
		fail "TENANT restore of $tb differs"
	[ "$(my "$tenant_dst" "SELECT COUNT(*) FROM \`$tb\` WHERE NOT (tenant_id <=> 'acme')")" = 0 ] ||
		fail "$tb holds other tenants"
done
[ "$(my "$tenant_dst" "SELECT COUNT(*) FROM flows")" -gt 0 ] || fail "tenant acme has no flows in the sample"
# tenants are compared as bytes, not with the columns' case-insensitive collation
create TENANT --tenant ACME --allow-empty --source "$(myuri "$src")" >/dev/null
grep -q 'Backup summary: .*FLOW: 0,' "$WORK/create.err" || fail "tenant 'ACME' matched tenant 'acme'"
note "TENANT round trip equal"

# --to-tenant on MariaDB: acme's records land in tenant gamma, keys and tenantId rewritten,
# generated tenant_id recomputed by MariaDB
gamma=$(new_my_db gamma)
"$CAIRN" backups restore "$t" --to-tenant gamma --source "$(myuri "$gamma")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "--to-tenant restore failed"; }
n_acme=$(my "$src" "SELECT COUNT(*) FROM flows WHERE tenant_id = 'acme'")
[ "$(my "$gamma" "SELECT COUNT(*) FROM flows WHERE tenant_id = 'gamma' AND \`key\` LIKE 'gamma\\_%' AND JSON_UNQUOTE(JSON_EXTRACT(value, '$.tenantId')) = 'gamma'")" = "$n_acme" ] ||
	fail "--to-tenant did not rewrite every flow"
[ "$(my "$gamma" "SELECT COUNT(*) FROM flows WHERE \`key\` LIKE 'acme%' OR tenant_id = 'acme'")" = 0 ] ||
	fail "--to-tenant left acme behind"
note "--to-tenant ok"

# ------------------------------------------------------------------ --dry-run, upsert, --replace
dst=$(new_my_db dst sample)
drift='acme_acme.ops_cleanup_job_1'
my "$dst" "UPDATE flows SET \`value\` = JSON_SET(\`value\`, '\$.description', 'drifted') WHERE \`key\` = '$drift'"
my "$dst" "INSERT INTO flows (\`key\`, \`value\`, source_code) VALUES ('acme_extra.ns_extra_1', '{\"id\":\"extra\",\"namespace\":\"extra.ns\",\"revision\":1,\"tenantId\":\"acme\",\"deleted\":false}', 'id: extra')"
# the same JSON value written differently (key order, spaces) is not a change…
my "$dst" "UPDATE flows SET \`value\` = '{\"tasks\": [{\"message\": \"hi\", \"type\": \"io.kestra.plugin.core.log.Log\", \"id\": \"log\"}], \"deleted\": false, \"disabled\": false, \"tenantId\": \"main\", \"revision\": 1, \"namespace\": \"company.team\", \"id\": \"hello\"}' WHERE \`key\` = 'main_company.team_hello_1'"
# …but one trailing space in a source code is (bytes, not the collation)
my "$dst" "UPDATE flows SET source_code = CONCAT(source_code, ' ') WHERE \`key\` = 'beta_beta.lab_experiment_1'"
before=$(my_digest "$dst")
"$CAIRN" backups restore "$u" --dry-run --source "$(myuri "$dst")" --storage "$STORE" --output json \
	>"$WORK/dry.json" 2>"$WORK/err" || { cat "$WORK/err"; fail "dry run failed"; }
[ "$(my_digest "$dst")" = "$before" ] || fail "--dry-run wrote to the target"
python3 - "$WORK/dry.json" <<'PY' || fail "dry-run report is wrong"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["dry_run"] is True, r
f = r["kinds"]["FLOW"]
assert f["changed"] == 2 and f["new"] == 0 and f["unchanged"] == f["records"] - 2, f
assert all(k["changed"] == 0 and k["new"] == 0 for n, k in r["kinds"].items() if n != "FLOW"), r
PY
note "--dry-run: exact outcomes, nothing written"

"$CAIRN" backups restore "$u" --source "$(myuri "$dst")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore failed"; }
[ "$(my "$dst" "SELECT COUNT(*) FROM flows WHERE JSON_VALUE(\`value\`, '\$.description') = 'drifted'")" = 0 ] ||
	fail "drift not repaired"
[ "$(my "$dst" "SELECT COUNT(*) FROM flows WHERE source_code LIKE '% '")" = 0 ] || fail "trailing space not repaired"
[ "$(my "$dst" "SELECT COUNT(*) FROM flows WHERE \`key\` = 'acme_extra.ns_extra_1'")" = 1 ] || fail "upsert deleted a row"

# a changed dashboard gets its backed-up `updated` back, whatever ON UPDATE CURRENT_TIMESTAMP says
my "$dst" "UPDATE dashboards SET \`value\` = JSON_SET(\`value\`, '\$.title', 'changed') WHERE \`key\` = 'main_overview'"
[ "$(my "$dst" "SELECT YEAR(updated) FROM dashboards WHERE \`key\` = 'main_overview'")" != 2025 ] ||
	fail "the test's drift did not bump dashboards.updated"
"$CAIRN" backups restore "$u" --source "$(myuri "$dst")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore failed"; }
q="SELECT CONCAT_WS('#', \`value\`, created, updated) FROM dashboards WHERE \`key\` = 'main_overview'"
[ "$(my "$src" "$q")" = "$(my "$dst" "$q")" ] || fail "dashboard not restored with its own 'updated'"

my "$dst" "INSERT INTO flows (\`key\`, \`value\`, source_code) VALUES ('beta_extra.ns_extra_1', '{\"id\":\"extra\",\"namespace\":\"extra.ns\",\"revision\":1,\"tenantId\":\"beta\",\"deleted\":false}', 'id: extra')"
"$CAIRN" backups restore "$t" --replace --source "$(myuri "$dst")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "--replace failed"; }
[ "$(my "$dst" "SELECT COUNT(*) FROM flows WHERE \`key\` = 'acme_extra.ns_extra_1'")" = 0 ] || fail "--replace kept a row of the tenant"
[ "$(my "$dst" "SELECT COUNT(*) FROM flows WHERE \`key\` = 'beta_extra.ns_extra_1'")" = 1 ] || fail "--replace touched another tenant"
q="SELECT MD5(GROUP_CONCAT(CONCAT_WS('#', HEX(\`key\`), HEX(JSON_NORMALIZE(\`value\`)), HEX(source_code)) ORDER BY \`key\` SEPARATOR '|')) FROM flows WHERE tenant_id = 'acme'"
[ "$(my "$src" "$q")" = "$(my "$dst" "$q")" ] || fail "--replace result differs from the backup"
note "--replace: the tenant's extra row gone, other tenants kept"

# ------------------------------------------------------------------ many records
# restore_write_batch works in chunks (200 records or 4 MiB per statement pair):
# 1 200 settings span several, with changed, unchanged and new records mixed.
bulk=$(new_my_db bulk sample)
bulk_dst=$(new_my_db bulk_dst)
my "$bulk" "INSERT INTO settings (\`key\`, \`value\`) SELECT CONCAT('bulk.', seq),
	JSON_OBJECT('key', CONCAT('bulk.', seq), 'value', seq) FROM seq_1_to_1200"
b=$(create FULL --source "$(myuri "$bulk")")
"$CAIRN" backups restore "$b" --source "$(myuri "$bulk_dst")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "bulk restore failed"; }
[ "$(my_digest "$bulk")" = "$(my_digest "$bulk_dst")" ] || fail "bulk restore differs from the source"
my "$bulk_dst" "UPDATE settings SET \`value\` = JSON_SET(\`value\`, '\$.value', -1) WHERE \`key\` IN ('bulk.7', 'bulk.450', 'bulk.1199');
	DELETE FROM settings WHERE \`key\` IN ('bulk.200', 'bulk.201')"
"$CAIRN" backups restore "$b" --source "$(myuri "$bulk_dst")" --storage "$STORE" --output json \
	>"$WORK/bulk.json" 2>"$WORK/err" || { cat "$WORK/err"; fail "second bulk restore failed"; }
python3 - "$WORK/bulk.json" <<'PY' || fail "bulk restore outcomes are wrong"
import json, sys
k = json.load(open(sys.argv[1]))["kinds"]["SETTING"]
assert k["records"] == 1203 and k["changed"] == 3 and k["new"] == 2 and k["unchanged"] == 1198, k
PY
[ "$(my_digest "$bulk")" = "$(my_digest "$bulk_dst")" ] || fail "bulk drift not repaired"
note "many records: exact outcomes across chunks"

# ------------------------------------------------------------------ bad input
empty=$(new_my_db empty)
expect_fail 3 env CAIRN_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" \
	"$CAIRN" backups restore "$u" --source "$(myuri "$empty")" --storage "$STORE"
[ "$(my_total_rows "$empty")" = 0 ] || fail "rows written with a wrong key"
expect_fail 5 "$CAIRN" backups create FULL --source "mysql://root@127.0.0.1:1/none" --storage "$STORE"
expect_fail 5 "$CAIRN" backups create FULL --source "$(myuri "${TEST}_no_such_db")" --storage "$STORE"
case "$ERR" in *"Unknown database"*) ;; *) fail "unknown database message: $ERR" ;; esac
note "bad input: refused, nothing written"

# ------------------------------------------------------------------ PostgreSQL → MariaDB → PostgreSQL
if [ -z "$PGPORT" ] || ! pg_isready -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null; then
	[ "${CI:-}" = true ] && fail "no PostgreSQL on 127.0.0.1:${PGPORT:-?} for the cross-backend test"
	echo "SKIPPED [$TEST]: cross-backend part: no PostgreSQL test server" >&2
	note "ok"
	exit 0
fi
pgsrc=$(new_db xsrc sample)
xdst=$(new_my_db xdst)

# Kestra's MySQL source_code is TEXT (64 KiB): the 370 KB flow of the PostgreSQL sample
# does not fit, and the restore says so instead of truncating; nothing is written.
pu=$(create FULL --source "$(uri "$pgsrc")")
expect_fail 5 "$CAIRN" backups restore "$pu" --source "$(myuri "$xdst")" --storage "$STORE"
case "$ERR" in *"main_company.team.etl_big_flow_1"*"too long"*) ;; *) fail "too-large message: $ERR" ;; esac
[ "$(my_total_rows "$xdst")" = 0 ] || fail "rows written by a failed restore"

pg "$pgsrc" -c "UPDATE flows SET source_code = left(source_code, 60000) WHERE key = 'main_company.team.etl_big_flow_1'"
pu=$(create FULL --source "$(uri "$pgsrc")")
"$CAIRN" backups restore "$pu" --source "$(myuri "$xdst")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "PostgreSQL → MariaDB restore failed"; }
"$CAIRN" backups restore "$pu" --source "$(myuri "$xdst")" --storage "$STORE" --output json \
	>"$WORK/again.json" 2>"$WORK/err" || { cat "$WORK/err"; fail "second PostgreSQL → MariaDB restore failed"; }
python3 - "$WORK/again.json" <<'PY' || fail "second PostgreSQL → MariaDB restore is not all unchanged"
import json, sys
r = json.load(open(sys.argv[1]))
for n, k in r["kinds"].items():
    assert k["new"] == 0 and k["changed"] == 0 and k["unchanged"] == k["records"], (n, k)
PY
mu=$(create FULL --source "$(myuri "$xdst")")
pgdst=$(new_db xdst)
"$CAIRN" backups restore "$mu" --source "$(uri "$pgdst")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "MariaDB → PostgreSQL restore failed"; }
pg_same_records "$pgsrc" "$pgdst" "PostgreSQL → MariaDB → PostgreSQL"
note "PostgreSQL → MariaDB → PostgreSQL: every record equal"
note "ok"

# --since on MariaDB: executions by start_date, logs and metrics by timestamp
u=$(create FULL --source "$(myuri "$src")" --include-data --since 2025-10-01T05:00:00Z)
grep -q 'EXECUTION: 1, .*LOG: 1, METRIC: 1,' "$WORK/create.err" || { cat "$WORK/create.err"; fail "--since summary on MariaDB"; }
u=$(create FULL --source "$(myuri "$src")" --include-data)
grep -q 'EXECUTION: 2, .*LOG: 1, METRIC: 2,' "$WORK/create.err" || { cat "$WORK/create.err"; fail "execution data from MariaDB"; }
note "--since and --include-data on MariaDB"

# PostgreSQL → MariaDB → PostgreSQL with execution data: every execution, log and metric equal
xdata=$(new_my_db xdata)
pu=$(create FULL --source "$(uri "$pgsrc")" --include-data)
"$CAIRN" backups restore "$pu" --source "$(myuri "$xdata")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "PostgreSQL → MariaDB restore with data failed"; }
[ "$(my "$xdata" "SELECT COUNT(*) FROM executions")" = 2 ] && [ "$(my "$xdata" "SELECT COUNT(*) FROM metrics")" = 2 ] ||
	fail "execution data missing in MariaDB"
mu=$(create FULL --source "$(myuri "$xdata")" --include-data)
pgback=$(new_db xback)
"$CAIRN" backups restore "$mu" --source "$(uri "$pgback")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "MariaDB → PostgreSQL restore with data failed"; }
[ "$(data_digest "$pgsrc")" = "$(data_digest "$pgback")" ] || { data_digest "$pgsrc"; data_digest "$pgback"; fail "execution data differs after PostgreSQL → MariaDB → PostgreSQL"; }
note "PostgreSQL → MariaDB → PostgreSQL with execution data: every row equal"
