# Shared helpers for the integration tests (sourced, bash).
#
# Environment (set by CTest, see CMakeLists.txt): CAIRN (the binary),
# CAIRN_PLUGIN_PATH, CRAFT, FIXTURES; and CAIRN_TEST_PG_PORT, the port of the
# PostgreSQL that tests/run-all.sh started on 127.0.0.1. Without a server a
# test is SKIPPED (exit 77) loudly — except under CI=true, where it fails.
set -euo pipefail

PGPORT=${CAIRN_TEST_PG_PORT:-}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-it.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
STORE="file://$WORK/store"
export CAIRN_ENCRYPTION_KEY=${CAIRN_ENCRYPTION_KEY:-$(head -c 32 /dev/urandom | base64)}
export CAIRN_CONFIG=/dev/null   # never pick up a machine's /etc/cairn/cairn.conf
TEST=$(basename "$0" .sh)
export PGOPTIONS="-c client_min_messages=warning"

fail() { echo "FAIL [$TEST]: $*" >&2; exit 1; }
note() { echo "[$TEST] $*"; }

need_pg() {
	if [ -z "$PGPORT" ] || ! pg_isready -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null; then
		if [ "${CI:-}" = true ]; then
			fail "no PostgreSQL on 127.0.0.1:${PGPORT:-?} (tests/run-all.sh starts one)"
		fi
		echo "SKIPPED [$TEST]: no PostgreSQL test server (run tests/run-all.sh)" >&2
		exit 77
	fi
}

# need_rgw — the Ceph RADOS Gateway of tests/peers/rgw.sh on 127.0.0.1:CAIRN_TEST_RGW_PORT
# (SKIPPED without one, a failure under CI); sets RGW_PORT and ENDPOINT and exports
# its test user's credentials, with nothing of the machine's AWS setup
need_rgw() {
	RGW_PORT=${CAIRN_TEST_RGW_PORT:-}
	if [ -z "$RGW_PORT" ] || ! python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$RGW_PORT/', timeout=3)" 2>/dev/null; then
		[ "${CI:-}" = true ] && fail "no RADOS Gateway on 127.0.0.1:${RGW_PORT:-?} (tests/run-all.sh starts one)"
		echo "SKIPPED [$TEST]: no S3 test server (tests/peers/rgw.sh; run tests/run-all.sh)" >&2
		exit 77
	fi
	ENDPOINT="http://127.0.0.1:$RGW_PORT"
	export AWS_ACCESS_KEY_ID=cairntest AWS_SECRET_ACCESS_KEY=cairntestsecret
	unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 || true
	export AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
}

# s3req METHOD PATH [QUERY [BODY [NAME:VALUE…]]] — a signed request straight to RGW
# (SigV4 by Python's standard library: the plugin under test does not prepare or
# check its own test); prints the status on the first line, then the body.
s3req() { python3 "$(dirname "$0")/s3req.py" "$ENDPOINT" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$@"; }
# mkbucket NAME [NAME:VALUE…] — create a bucket (with these request headers)
mkbucket() {
	local st
	st=$(s3req PUT "/$1" "" "" "${@:2}" | head -n1)
	[ "$st" = 200 ] || [ "$st" = 409 ]
}

pg() { # pg DB SQL…  → unaligned, tuples only
	local db=$1; shift
	psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$db" "$@"
}

uri() { echo "postgresql://postgres@127.0.0.1:$PGPORT/$1"; }

# new_db NAME [sample]: a fresh database with Kestra's schema (and sample data)
new_db() {
	local name="${TEST}_$1"
	pg postgres -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
	pg "$name" -f "$FIXTURES/kestra-postgres.sql" >/dev/null
	if [ "${2:-}" = sample ]; then
		pg "$name" -f "$FIXTURES/kestra-sample.sql" >/dev/null
	fi
	echo "$name"
}

METADATA_TABLES="bindings blueprints dashboards flows groups kv_metadata namespaces
namespace_file_metadata roles secrets security_integrations settings templates tenants
tenant_access triggers users"

# digest DB [WHERE] — every column (generated ones included) of every row of
# every metadata table, in key order, hashed per table; one query.
digest() {
	local db=$1 where=${2:-true} sql="" t
	for t in $METADATA_TABLES; do
		[ -n "$sql" ] && sql+=" UNION ALL "
		sql+="SELECT '$t', md5(coalesce(string_agg(x::text, '|' ORDER BY key), '')) FROM $t x WHERE $where"
	done
	pg "$db" -c "$sql"
}

# pg_same_records A B WHAT [TABLE=EXPR…] — databases A and B hold the same
# records, by the cross-backend rule: per metadata table the keys and values
# (as JSON; EXPR replaces `value` for TABLE), and the source_code of flows
# and dashboards.
pg_same_records() {
	local a=$1 b=$2 what=$3 tb v o q x y
	shift 3
	for tb in $METADATA_TABLES; do
		v=value
		for o in "$@"; do [ "${o%%=*}" = "$tb" ] && v=${o#*=}; done
		q="SELECT count(*) || ':' || md5(coalesce(string_agg(key || '#' || ($v)::text, '|' ORDER BY key), '')) FROM $tb"
		x=$(pg "$a" -c "$q")
		y=$(pg "$b" -c "$q")
		[ "$x" = "$y" ] || fail "$what: $tb differs ($x / $y)"
	done
	for tb in flows dashboards; do
		q="SELECT md5(string_agg(key || '#' || source_code, '|' ORDER BY key)) FROM $tb"
		[ "$(pg "$a" -c "$q")" = "$(pg "$b" -c "$q")" ] || fail "$what: $tb source_code differs"
	done
}

DATA_TABLES="executions logs metrics"
# data_digest DB — every column of every row of the execution-data tables, with counts
data_digest() {
	local sql="" t
	for t in $DATA_TABLES; do
		[ -n "$sql" ] && sql+=" UNION ALL "
		sql+="SELECT '$t', count(*)::text || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY key), '')) FROM $t x"
	done
	pg "$1" -c "$sql"
}

total_rows() {
	local db=$1 sql="" t
	for t in $METADATA_TABLES; do
		[ -n "$sql" ] && sql+=" + "
		sql+="(SELECT count(*) FROM $t)"
	done
	pg "$db" -c "SELECT $sql"
}

# create ARGS… → prints the backup URI
create() {
	local out
	out=$("$CAIRN" backups create "$@" --storage "$STORE" --no-progress 2>"$WORK/create.err") ||
		{ cat "$WORK/create.err" >&2; fail "backups create $* failed"; }
	echo "${out#Backup created: }"
}

# expect_fail CODE CMD… — exit code CODE and exactly one 'cairn: error:' line
expect_fail() {
	local code=$1; shift
	set +e
	"$@" >"$WORK/out" 2>"$WORK/err"
	local rc=$?
	set -e
	if [ "$rc" -ne "$code" ]; then
		cat "$WORK/err" >&2
		fail "expected exit $code, got $rc: $*"
	fi
	local n
	n=$(grep -c '^cairn: error: ' "$WORK/err" || true)
	[ "$n" -eq 1 ] || { cat "$WORK/err" >&2; fail "expected one error line, got $n: $*"; }
	grep -q 'AddressSanitizer\|runtime error' "$WORK/err" && fail "sanitizer report: $*"
	ERR=$(grep '^cairn: error: ' "$WORK/err")
}

# ---------------------------------------------------------------- MySQL/MariaDB
# CAIRN_TEST_MY_PORT: the port of the MariaDB that tests/run-all.sh started on
# 127.0.0.1 (tests/peers/mariadb.sh; user root, no password, TCP).
MYPORT=${CAIRN_TEST_MY_PORT:-}

need_my() {
	if [ -z "$MYPORT" ] || ! mariadb-admin --no-defaults --protocol=TCP -h 127.0.0.1 \
		-P "$MYPORT" -u root --connect-timeout=2 ping >/dev/null 2>&1; then
		if [ "${CI:-}" = true ]; then
			fail "no MariaDB on 127.0.0.1:${MYPORT:-?} (tests/run-all.sh starts one)"
		fi
		echo "SKIPPED [$TEST]: no MariaDB test server (run tests/run-all.sh)" >&2
		exit 77
	fi
}

my() { # my DB SQL  → tab-separated, no column names
	local db=$1; shift
	mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MYPORT" -u root -N -B \
		--default-character-set=utf8mb4 "$db" -e "SET SESSION group_concat_max_len = 1073741824; $*"
}

myuri() { echo "mysql://root@127.0.0.1:$MYPORT/$1"; }

# new_my_db NAME [sample]: a fresh database with Kestra's MySQL schema (and sample data)
new_my_db() {
	local name="${TEST}_$1"
	my mysql "DROP DATABASE IF EXISTS \`$name\`; CREATE DATABASE \`$name\`" >/dev/null
	mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MYPORT" -u root "$name" \
		<"$FIXTURES/kestra-mysql.sql" >/dev/null
	if [ "${2:-}" = sample ]; then
		mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MYPORT" -u root "$name" \
			<"$FIXTURES/kestra-sample-mysql.sql" >/dev/null
	fi
	echo "$name"
}

# my_digest DB [WHERE] — every column (generated ones included) of every row of
# every metadata table, in key order, hashed per table; `value` compared as
# JSON (JSON_NORMALIZE), the other columns byte for byte (HEX).
my_digest() {
	local db=$1 where=${2:-TRUE} sql="" t cols tables
	# every table's column list in one query: NAME<TAB>expr, expr…
	tables=$(my "$db" "SELECT TABLE_NAME, GROUP_CONCAT(IF(COLUMN_NAME = 'value',
		'COALESCE(HEX(JSON_NORMALIZE(\`value\`)), ''~'')',
		CONCAT('COALESCE(HEX(\`', COLUMN_NAME, '\`), ''~'')')) ORDER BY ORDINAL_POSITION SEPARATOR ', ')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() GROUP BY TABLE_NAME")
	for t in $METADATA_TABLES; do
		cols=$(awk -F '\t' -v t="$t" '$1 == t { print $2 }' <<<"$tables")
		[ -n "$cols" ] || fail "table $t missing in $db"
		[ -n "$sql" ] && sql+=" UNION ALL "
		sql+="SELECT '$t', MD5(COALESCE(GROUP_CONCAT(CONCAT_WS('#', $cols) ORDER BY \`key\` SEPARATOR '|'), '')) FROM \`$t\` WHERE $where"
	done
	my "$db" "$sql"
}

my_total_rows() {
	local db=$1 sql="" t
	for t in $METADATA_TABLES; do
		[ -n "$sql" ] && sql+=" + "
		sql+="(SELECT COUNT(*) FROM \`$t\`)"
	done
	my "$db" "SELECT $sql"
}

# refuse_damaged PLAIN ENCRYPTED — damaged and hostile archives made from two
# good backups (an unencrypted and an encrypted one): flipped bytes,
# truncations, bad magic, unknown version, oversize length field, a '../'
# entry, an unknown inner format, a missing summary or chunk. Each goes
# through the caller's `restore_fails CODE FILE`, which restores it into the
# caller's target and checks that nothing was written.
refuse_damaged() {
	local P=$1 E=$2 size off src_file s cut H
	size=$(stat -c %s "$P")
	# a flipped byte in an unencrypted archive, at several places
	for off in 3 9 20 $((size / 3)) $((size / 2)) $((size - 20)) $((size - 1)); do
		cp "$P" "$WORK/flip.cairn"
		python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^0x10]))" "$WORK/flip.cairn" "$off"
		restore_fails 4 "$WORK/flip.cairn"
	done

	# truncated at several points, encrypted and not
	for src_file in "$P" "$E"; do
		s=$(stat -c %s "$src_file")
		for cut in 0 7 16 40 $((s / 2)) $((s - 17)) $((s - 1)); do
			head -c "$cut" "$src_file" >"$WORK/cut.cairn"
			restore_fails 4 "$WORK/cut.cairn"
		done
	done

	# bad magic; unknown envelope version; oversize message length
	cp "$P" "$WORK/magic.cairn"; printf 'XXXXX' | dd of="$WORK/magic.cairn" conv=notrunc status=none
	restore_fails 4 "$WORK/magic.cairn"
	case "$ERR" in *magic*|*"not a Cairn"*|*"not a cairn"*) ;; *) fail "bad magic message: $ERR" ;; esac
	cp "$P" "$WORK/version.cairn"; printf '\x09\x00' | dd of="$WORK/version.cairn" bs=1 seek=8 conv=notrunc status=none
	restore_fails 4 "$WORK/version.cairn"
	case "$ERR" in *version*) ;; *) fail "unknown version message: $ERR" ;; esac
	H=$(python3 -c "import struct,sys; print(struct.unpack('<I', open(sys.argv[1],'rb').read()[12:16])[0])" "$P")
	cp "$P" "$WORK/oversize.cairn"
	printf '\xff\xff\xff\x7f' | dd of="$WORK/oversize.cairn" bs=1 seek=$((16 + H)) conv=notrunc status=none
	restore_fails 4 "$WORK/oversize.cairn"
	case "$ERR" in *oversize*) ;; *) fail "oversize message: $ERR" ;; esac

	# authenticated but hostile content: ../ path, unknown inner format, no summary, lost chunk
	"$CRAFT" "$P" "$WORK/dotdot.cairn" add "../../etc/evil"
	restore_fails 4 "$WORK/dotdot.cairn"
	case "$ERR" in *"../../etc/evil"*) ;; *) fail "path traversal message: $ERR" ;; esac
	[ ! -e "$WORK/../etc/evil" ] || fail "an entry was written to disk"
	"$CRAFT" "$P" "$WORK/format.cairn" format 7
	restore_fails 4 "$WORK/format.cairn"
	case "$ERR" in *"format 7"*) ;; *) fail "inner format message: $ERR" ;; esac
	"$CRAFT" "$P" "$WORK/nosummary.cairn" drop summary.msgpack
	restore_fails 4 "$WORK/nosummary.cairn"
	"$CRAFT" "$P" "$WORK/lost.cairn" drop records/FLOW/000001.msgpack
	restore_fails 4 "$WORK/lost.cairn"
	case "$ERR" in *"summary says"*) ;; *) fail "missing chunk message: $ERR" ;; esac
}

# refuse_hostile T F P — authentic archives (re-encrypted with the instance key
# by $CRAFT) whose *content* breaks a rule, made from a TENANT backup T of
# tenant main, a FULL backup F and an unencrypted FULL backup P (paths). Each
# goes through the caller's `refused CODE FILE [args]`, which restores it
# (plain and with --replace) into a target holding data and checks that the
# target is unchanged; `verify` must refuse it with the same code.
refuse_hostile() {
	local T=$1 F=$2 P=$3 name
	hostile() { # NAME CODE MESSAGE-FRAGMENT CRAFT-ARGS…
		local name=$1 code=$2 frag=$3; shift 3
		if [ "$1" != none ]; then "$CRAFT" "$T" "$WORK/$name.cairn" "$@"; fi
		refused "$code" "$WORK/$name.cairn"
		case "$ERR" in *"$frag"*) ;; *) fail "$name: message lacks '$frag': $ERR" ;; esac
		refused "$code" "$WORK/$name.cairn" --replace
		expect_fail "$code" "$CAIRN" backups verify "file://$WORK/$name.cairn"
		case "$ERR" in *"$frag"*) ;; *) fail "$name: verify message lacks '$frag': $ERR" ;; esac
	}
	local head='"key":"main_evil.ns_x_1","tenant":"main"'
	local flow='"columns":[["key",1,"main_evil.ns_x_1"],["value",2,{"id":"x","namespace":"evil.ns","revision":1,"tenantId":"main","deleted":false}],["source_code",1,SOURCE]]'
	hostile other 4 "belongs to tenant 'acme'" addrec FLOW \
		'{"key":"acme_evil.ns_x_1","tenant":"acme","columns":[["key",1,"acme_evil.ns_x_1"],["value",2,{"id":"x","namespace":"evil.ns","revision":1,"tenantId":"acme","deleted":false}],["source_code",1,"id: x"]]}'
	hostile json_tenant 4 "value names another tenant" addrec FLOW \
		'{"key":"main_evil.ns_x_1","tenant":"main","columns":[["key",1,"main_evil.ns_x_1"],["value",2,{"id":"x","namespace":"evil.ns","revision":1,"tenantId":"acme"}],["source_code",1,"id: x"]]}'
	hostile dup_tenant 4 "value names another tenant" addrec FLOW \
		'{"key":"main_evil.ns_x_1","tenant":"main","columns":[["key",1,"main_evil.ns_x_1"],["value",2,{"tenantId":"main","id":"x","tenantId":"acme"}],["source_code",1,"id: x"]]}'
	hostile no_json_tenant 4 "has no tenantId" addrec FLOW \
		'{"key":"main_evil.ns_x_1","tenant":"main","columns":[["key",1,"main_evil.ns_x_1"],["value",2,{"id":"x","namespace":"evil.ns","revision":1}],["source_code",1,"id: x"]]}'
	hostile tenant_column 4 "tenant_id column" addrec FLOW \
		'{"key":"main_evil.ns_x_1","tenant":"main","columns":[["key",1,"main_evil.ns_x_1"],["value",2,{"id":"x","tenantId":"main"}],["tenant_id",1,"acme"]]}'
	hostile value_text 4 "value column is not JSON" addrec FLOW \
		'{"key":"main_evil.ns_x_1","tenant":"main","columns":[["key",1,"main_evil.ns_x_1"],["value",1,"{\"tenantId\":\"acme\"}"]]}'
	hostile instance_kind 4 "instance-level kind" addrec USER \
		'{"key":"evil","tenant":null,"columns":[["key",1,"evil"],["value",2,{"id":"evil","username":"evil","superAdmin":true}]]}'
	hostile nil_tenant 4 "not to this TENANT backup's '(no tenant)'" manifest tenant -
	hostile key_column 4 "key column differs" addrec FLOW \
		"{\"key\":\"main_evil.ns_x_1\",\"tenant\":\"main\",\"columns\":[[\"key\",1,\"main_other_1\"],[\"value\",2,{\"tenantId\":\"main\"}]]}"
	hostile bad_utf8 4 "not valid UTF-8" addrec FLOW "{$head,${flow/SOURCE/{\"hex\":\"69643a20c328\"\}}}"
	hostile nul_text 4 "NUL byte" addrec FLOW "{$head,${flow/SOURCE/{\"hex\":\"69640078\"\}}}"
	"$CRAFT" "$F" "$WORK/full_tenant.cairn" manifest tenant main
	hostile full_tenant 4 "a FULL backup that names tenant" none
	"$CRAFT" "$T" "$WORK/unknown_kind.cairn" addrec NO_SUCH_KIND '{"key":"k","tenant":"main","columns":[]}'
	hostile unknown_kind 4 "catalogue does not know" none

	# downgrade: an unencrypted backup where a key is configured is refused
	# (exit 3) by restore and verify, and reads with --allow-unencrypted
	refused 3 "$P"
	case "$ERR" in *"--allow-unencrypted"*) ;; *) fail "downgrade message: $ERR" ;; esac
	expect_fail 3 "$CAIRN" backups verify "file://$P"
	"$CAIRN" backups verify "file://$P" --allow-unencrypted >/dev/null 2>&1 ||
		fail "--allow-unencrypted does not verify an intact unencrypted backup"
	CAIRN_ENCRYPTION_KEY= "$CAIRN" backups verify "file://$P" >/dev/null 2>&1 ||
		fail "without any key configured an unencrypted backup is refused"
}

# ---- Elasticsearch (the test server of tests/peers/elasticsearch.sh) ----
ESPORT=${CAIRN_TEST_ES_PORT:-}
need_es() {
	if [ -z "$ESPORT" ] || ! curl -fsS "http://127.0.0.1:$ESPORT/" >/dev/null 2>&1; then
		if [ "${CI:-}" = true ]; then
			fail "no Elasticsearch test server on 127.0.0.1:${ESPORT:-?} (tests/run-all.sh starts one)"
		fi
		echo "SKIPPED [$TEST]: no Elasticsearch test server (run tests/run-all.sh)" >&2
		exit 77
	fi
}
# es METHOD PATH [BODY] → the answer's body (fails on HTTP >= 400)
es() {
	if [ $# -ge 3 ]; then
		curl -fsS -X "$1" -H 'Content-Type: application/json' --data-binary "$3" "http://127.0.0.1:$ESPORT$2"
	else
		curl -fsS -X "$1" "http://127.0.0.1:$ESPORT$2"
	fi
}
esuri() { echo "elasticsearch://127.0.0.1:$ESPORT"; }
# the mapping of Kestra's indices, as far as the plugin relies on it
ES_MAPPING='{"mappings":{"dynamic":false,"properties":{"tenantId":{"type":"keyword"},"namespace":{"type":"keyword"},"id":{"type":"keyword"},"deleted":{"type":"boolean"}}}}'

# ---- Kestra's internal storage (files.h, docs/full-backup.md) ----
# sample_files DIR — the internal storage of the sample data (kestra-sample*.sql)
# as Kestra's local storage lays it out: every KV row's value (one with a
# .metadata sidecar, one version 2), the namespace file (the directory row has
# none), two execution files (one of 4 MiB + 123 bytes: two parts in the archive, one
# empty), and a state-store file that no backup takes.
sample_files() {
	local d=$1
	local run="$d/main/company/team/hello/executions/7Yc4kN1dWrQ2"
	local trig="$d/acme/acme/ops/cleanup_job/executions/6Xb3jM0cVqP1/trigger/nightly"
	mkdir -p "$d/main/company/team/_kv" "$d/acme/acme/sales/_kv" "$d/main/company/team/_files/scripts" \
		"$d/beta/beta/lab/_files/notes" "$run/tasks/log/1a" "$trig" "$d/main/company/team/hello/states"
	printf '"s3cr3t-t0ken"' >"$d/main/company/team/_kv/api_token.ion"
	printf '{"description":"the token"}' >"$d/main/company/team/_kv/api_token.ion.metadata"
	printf '10' >"$d/acme/acme/sales/_kv/threshold.ion"
	printf '20' >"$d/acme/acme/sales/_kv/threshold.ion.v2"
	printf 'import sys\nprint(sys.argv)\n' >"$d/main/company/team/_files/scripts/etl.py"
	printf 'notes: façade\n' >"$d/beta/beta/lab/_files/notes/readme façade.md"
	head -c $((4 * 1024 * 1024 + 123)) /dev/urandom >"$run/tasks/log/1a/out.bin"
	: >"$trig/empty.txt"
	printf 'last run' >"$d/main/company/team/hello/states/last"
}

# tree_digest DIR [EXCLUDE-REGEX] — every file's path and SHA-256, sorted
tree_digest() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum) | { grep -Ev "${2:-^$}" || true; }
}
