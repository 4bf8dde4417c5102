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

# into an empty target the records go in without a look-up (every one NEW): a dry run
# still reports them exactly and leaves the target empty
dry_empty=$(new_my_db dry_empty)
"$CAIRN" backups restore "$u" --dry-run --source "$(myuri "$dry_empty")" --storage "$STORE" --output json \
	>"$WORK/dry_empty.json" 2>"$WORK/err" || { cat "$WORK/err"; fail "dry run into an empty target failed"; }
[ "$(my_total_rows "$dry_empty")" = 0 ] || fail "--dry-run into an empty target wrote rows"
python3 - "$WORK/dry_empty.json" <<'PY' || fail "dry run into an empty target: outcomes are wrong"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["dry_run"] is True, r
assert sum(k["records"] for k in r["kinds"].values()) > 40, r
for n, k in r["kinds"].items():
    assert k["new"] == k["records"] and k["changed"] == 0 and k["unchanged"] == 0, (n, k)
PY
note "--dry-run into an empty target: every record NEW, nothing written"

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
# settings_outcomes BACKUP DB "RECORDS NEW CHANGED UNCHANGED" WHAT — restores BACKUP into DB
# and checks the SETTING outcomes it reports
settings_outcomes() {
	"$CAIRN" backups restore "$1" --source "$(myuri "$2")" --storage "$STORE" --output json \
		>"$WORK/settings.json" 2>"$WORK/err" || { cat "$WORK/err"; fail "$4: restore failed"; }
	python3 - "$WORK/settings.json" "$3" <<'PY' || fail "$4: outcomes are wrong"
import json, sys
k = json.load(open(sys.argv[1]))["kinds"]["SETTING"]
assert [k["records"], k["new"], k["changed"], k["unchanged"]] == [int(x) for x in sys.argv[2].split()], k
PY
}
settings_outcomes "$b" "$bulk_dst" "1203 2 3 1198" "second bulk restore"
[ "$(my_digest "$bulk")" = "$(my_digest "$bulk_dst")" ] || fail "bulk drift not repaired"
note "many records: exact outcomes across chunks"

# a target holding only the keys that come last ('bulk.9…' sorts after the other bulk.*):
# the first chunks go in without a look-up, the first chunk that meets an existing key is
# undone by the server and looked up, and so is every chunk after it
part=$(new_my_db part)
my "$part" "INSERT INTO settings (\`key\`, \`value\`) SELECT \`key\`, \`value\` FROM \`$bulk\`.settings WHERE \`key\` LIKE 'bulk.9%';
	UPDATE settings SET \`value\` = JSON_SET(\`value\`, '\$.value', -1) WHERE \`key\` IN ('bulk.9', 'bulk.987')"
[ "$(my "$part" "SELECT COUNT(*) FROM settings")" = 111 ] || fail "the partial target is not what the test expects"
settings_outcomes "$b" "$part" "1203 1092 2 109" "restore into a partial target"
[ "$(my_digest "$bulk")" = "$(my_digest "$part")" ] || fail "restore into a partial target differs from the source"
note "partial target: new records without a look-up, then exact outcomes for the existing ones"

# a unique index other than the primary key (an operator's own) on which a record collides
# with a row of another key: no amount of looking up by key explains the duplicate, so the
# restore fails after a few tries, naming the record, and writes nothing
uniq=$(new_my_db uniq)
my "$uniq" "ALTER TABLE settings ADD COLUMN v VARCHAR(200) GENERATED ALWAYS AS (JSON_VALUE(\`value\`, '\$.value')) STORED,
	ADD UNIQUE KEY ux_v (v); INSERT INTO settings (\`key\`, \`value\`) VALUES ('other', '{\"value\": 5}')"
expect_fail 5 "$CAIRN" backups restore "$b" --source "$(myuri "$uniq")" --storage "$STORE"
case "$ERR" in *"'bulk.5'"*"unique index other than the primary key"*) ;; *) fail "unique-index message: $ERR" ;; esac
[ "$(my_total_rows "$uniq")" = 1 ] || fail "a restore failing on a unique index wrote rows"
note "a duplicate on another unique index: refused, nothing written"

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

# the same failure half way into a target that holds rows (look-ups, then an upsert that
# fails): the target is left exactly as it was
xfull=$(new_my_db xfull sample)
before=$(my_digest "$xfull")
expect_fail 5 "$CAIRN" backups restore "$pu" --source "$(myuri "$xfull")" --storage "$STORE"
case "$ERR" in *"main_company.team.etl_big_flow_1"*"too long"*) ;; *) fail "too-large message (full target): $ERR" ;; esac
[ "$(my_digest "$xfull")" = "$before" ] || fail "a failed restore changed a target holding rows"
note "too-large flow: refused, nothing written, into an empty target and into a full one"

# keys that differ only in case are two records to PostgreSQL and one row to MariaDB's
# utf8mb4_unicode_ci key: the second overwrites the first, and the outcomes say so
# record by record (NEW then CHANGED; restored again, CHANGED twice)
pgcase=$(new_db xcase)
pg "$pgcase" -c "INSERT INTO settings (key, value) VALUES ('case.key', '{\"v\": 1}'), ('CASE.KEY', '{\"v\": 2}')"
cu=$(create FULL --source "$(uri "$pgcase")")
xcase=$(new_my_db xcase)
settings_outcomes "$cu" "$xcase" "2 1 1 0" "case-only keys, first restore"
settings_outcomes "$cu" "$xcase" "2 0 2 0" "case-only keys, second restore"
[ "$(my "$xcase" "SELECT COUNT(*) FROM settings")" = 1 ] || fail "case-only keys: not one row"
note "keys equal under the collation: one row, exact outcomes"

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
