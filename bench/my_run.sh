#!/usr/bin/env bash
# Cairn vs MariaDB's native tools, on the same generated data, in one run.
#
#   bench/my_run.sh [FLOWS…]
#
# FLOWS: flow-row counts, one run each (default 200000; 2000000 for the
# large run: `bench/my_run.sh 200000 2000000`), plus n/2 triggers, n/4 KV and
# namespace-file metadata … (see bench/gen-mysql.sql). Starts its own
# throwaway MariaDB on 127.0.0.1:${BENCH_MY_PORT:-55478} under /tmp
# (tests/peers/mariadb.sh … durable: redo log flushed and binary log synced at
# every commit, as operators run it), builds Cairn in Release into
# build-bench/ (the same configuration as bench/run.sh), and prints a
# markdown report (also written to ${BENCH_OUT:-bench/last-run-my.md}).
#
# Environment:
#   BENCH_MY_PORT=55478         server port
#   BENCH_SIZES="10000 100000"  the flow-row counts, instead of the arguments
#   BENCH_REPEAT=1              restores per tool and size; the report gives the median
#   BENCH_FAST=1                the tests' fast server (no binary log, no flush at commit)
#   BENCH_KEEP=1                keep the temporary directory and server
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
sizes=${BENCH_SIZES:-${*:-200000}}
for n in $sizes; do
	case "$n" in '' | *[!0-9]* | 0*) echo "usage: $0 [FLOWS…] (flow-row counts, e.g. 200000)" >&2; exit 2 ;; esac
done
repeat=${BENCH_REPEAT:-1}
case "$repeat" in '' | *[!0-9]* | 0*) echo "$0: BENCH_REPEAT must be a positive number" >&2; exit 2 ;; esac
port=${BENCH_MY_PORT:-55478}
out_md=${BENCH_OUT:-$here/bench/last-run-my.md}
durable=durable
[ "${BENCH_FAST:-0}" = 1 ] && durable=""
tables="bindings blueprints dashboards flows groups kv_metadata namespaces namespace_file_metadata
roles secrets security_integrations settings templates tenants tenant_access triggers users"
started=$(date +%s)

if [ ! -x /usr/bin/time ]; then
	apt-get install -y time >/dev/null
fi
for tool in mariadb mariadb-dump gzip python3; do
	command -v "$tool" >/dev/null || { echo "$0: $tool is missing (apt-get install mariadb-client gzip python3)" >&2; exit 1; }
done

. "$here/bench/lib.sh"
bench_build "$here"
[ -f "$here/build-bench/plugins/cairn-source-mysql.so" ] ||
	{ echo "$0: build-bench/ has no MySQL plugin (CAIRN_PLUGIN_MYSQL=OFF? apt-get install libmariadb-dev)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/cairn-bench-my.XXXXXX)
chmod 755 "$tmp"   # the server runs as `mysql` when we are root
cleanup() {
	if [ "${BENCH_KEEP:-0}" != 1 ]; then
		"$here/tests/peers/mariadb.sh" stop "$tmp/my" >/dev/null 2>&1 || true
		rm -rf "$tmp"
	else
		echo "kept $tmp (server on port $port)" >&2
	fi
}
trap cleanup EXIT
# shellcheck disable=SC2086
"$here/tests/peers/mariadb.sh" start "$tmp/my" "$port" $durable >&2
client=(--no-defaults --protocol=TCP -h 127.0.0.1 -P "$port" -u root --default-character-set=utf8mb4)
my() { mariadb "${client[@]}" -N -B "$@"; }

export CAIRN_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
export CAIRN_STORAGE="file://$tmp/storage"

# Empty Kestra schema (flyway rows included, no metadata records), Kestra's indexes as shipped.
schema_db() {
	my -e "DROP DATABASE IF EXISTS \`$1\`; CREATE DATABASE \`$1\`"
	my "$1" <"$here/tests/fixtures/kestra-mysql.sql"
}

# Before each measurement: the dirty pages of what ran before (the data load, the
# previous restore) are flushed, so that no tool pays for another's writes. The
# server's own setting is put back before the measured command runs.
quiesce() {
	local pct i=0
	pct=$(my -e "SELECT @@innodb_max_dirty_pages_pct")
	my -e "SET GLOBAL innodb_max_dirty_pages_pct = 0"
	while [ "$(my -e "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'" | cut -f2)" -gt 64 ] &&
		[ $i -lt 300 ]; do
		sleep 1
		i=$((i + 1))
	done
	my -e "SET GLOBAL innodb_max_dirty_pages_pct = $pct"
	# nobody replicates from this server: the binary log of what ran before goes
	[ -z "$durable" ] || my -e "RESET MASTER"
}

# median NAME — T, M and C of NAME become the median of NAME.1 … NAME.$repeat
# (for M the largest, the peak being what matters).
median() {
	local r
	T[$1]=$(for r in $(seq "$repeat"); do echo "${T[$1.$r]}"; done | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}')
	C[$1]=$(for r in $(seq "$repeat"); do echo "${C[$1.$r]}"; done | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}')
	M[$1]=$(for r in $(seq "$repeat"); do echo "${M[$1.$r]}"; done | sort -g | tail -n1)
}

# measure (bench/lib.sh) sets T, M, C: wall s, peak RSS KiB, CPU s. In a pipeline
# (sh -c), %M is the largest single process of the pipeline.
declare -A T M C

# one line per table: row count and an order-independent sum of a hash of
# every row, every column (generated ones included) byte for byte except
# `value`, compared as JSON (JSON_NORMALIZE), as tests/integration/lib.sh does
checksum() {
	local t cols
	for t in $tables; do
		cols=$(my "$1" -e "SELECT GROUP_CONCAT(IF(COLUMN_NAME = 'value',
			'COALESCE(HEX(JSON_NORMALIZE(\`value\`)), ''~'')',
			CONCAT('COALESCE(HEX(\`', COLUMN_NAME, '\`), ''~'')')) ORDER BY ORDINAL_POSITION SEPARATOR ', ')
			FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '$t'")
		echo "$t $(my "$1" -e "SELECT COUNT(*), COALESCE(SUM(CONV(LEFT(MD5(CONCAT_WS('#', $cols)), 15), 16, 10)), 0) FROM \`$t\`")"
	done
}

# all_unchanged FILE — the JSON report of a restore says every record is UNCHANGED
all_unchanged() {
	python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if all(k["new"] == 0 and k["changed"] == 0 and k["unchanged"] == k["records"]
                  for k in r["kinds"].values()) else 1)
PY
}

report="$tmp/report.md"
: >"$report"
declare -A RSS_CREATE RSS_RESTORE RSS_VERIFY

for n in $sizes; do
	echo "== size $n flow rows" >&2
	src=src_$n
	schema_db "$src"
	t0=$(date +%s)
	{ echo "SET @n = $n;"; cat "$here/bench/gen-mysql.sql"; } | my "$src" >/dev/null
	echo "   generated in $(( $(date +%s) - t0 )) s" >&2
	records=$(for t in $tables; do my "$src" -e "SELECT COUNT(*) FROM \`$t\`"; done | awk '{s+=$1} END{print s}')
	rawtext=$(for t in $tables; do my "$src" -e "SELECT COALESCE(SUM(LENGTH(\`key\`) + LENGTH(\`value\`)), 0) FROM \`$t\`"; done | awk '{s+=$1} END{print s}')
	srctext=$(my "$src" -e "SELECT (SELECT SUM(LENGTH(source_code)) FROM flows) + (SELECT COALESCE(SUM(LENGTH(source_code)), 0) FROM dashboards)")
	ondisk=$(my "$src" -e "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ($(printf "'%s'," $tables | sed 's/,$//'))")

	uri_src="mysql://root@127.0.0.1:$port/$src"
	quiesce
	measure "cairn_create_$n" "$cairn" backups create FULL --source "$uri_src"
	uri=$(sed -n 's/^Backup created: //p' "$tmp/out.cairn_create_$n")
	arch=$(ls -t "$tmp"/storage/backups/full/*.cairn | head -n1)
	sz_cairn=$(stat -c %s "$arch")
	# data only (the targets have the schema); no LOCK TABLES / ALTER TABLE … DISABLE KEYS
	# in the output, so that the restore below really is one transaction
	quiesce
	measure "dump_$n" sh -c "mariadb-dump --no-defaults --protocol=TCP -h 127.0.0.1 -P $port -u root --default-character-set=utf8mb4 --single-transaction --no-create-info --skip-add-locks --skip-disable-keys '$src' $(echo $tables) | gzip >'$tmp/dump_$n.sql.gz'"
	sz_dump=$(stat -c %s "$tmp/dump_$n.sql.gz")
	measure "cairn_verify_$n" "$cairn" backups verify "$uri"

	# each repetition restores into fresh empty databases; the last ones are checked below
	unchanged=yes
	for r in $(seq "$repeat"); do
		schema_db "rc_$n"
		quiesce
		measure "cairn_restore_$n.$r" "$cairn" backups restore "$uri" --source "mysql://root@127.0.0.1:$port/rc_$n"
		quiesce
		measure "cairn_again_$n.$r" "$cairn" backups restore "$uri" --source "mysql://root@127.0.0.1:$port/rc_$n" --output json
		all_unchanged "$tmp/out.cairn_again_$n.$r" || { unchanged=NO; echo "$0: restoring again changed records" >&2; }
		schema_db "rn_$n"
		quiesce
		measure "native_restore_$n.$r" sh -c "{ echo 'SET autocommit = 0;'; gunzip -c '$tmp/dump_$n.sql.gz'; echo 'COMMIT;'; } | mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P $port -u root --default-character-set=utf8mb4 'rn_$n'"
	done
	for m in cairn_restore cairn_again native_restore; do median "${m}_$n"; done

	checksum "$src" >"$tmp/sum.src"
	same=yes
	for d in "rc_$n" "rn_$n"; do
		checksum "$d" >"$tmp/sum.$d"
		cmp -s "$tmp/sum.src" "$tmp/sum.$d" || { same=NO; echo "$0: $d differs from $src" >&2; diff "$tmp/sum.src" "$tmp/sum.$d" >&2 || true; }
	done
	# keep the server's disk use down between sizes
	for d in "rc_$n" "rn_$n" "$src"; do my -e "DROP DATABASE \`$d\`"; done

	RSS_CREATE[$n]=${M[cairn_create_$n]}; RSS_RESTORE[$n]=${M[cairn_restore_$n]}; RSS_VERIFY[$n]=${M[cairn_verify_$n]}
	native="\`gunzip \| mariadb\` (autocommit=0 … COMMIT)"
	{
		echo "### $n flow rows — $records records, $(mbytes "$rawtext") MB of keys and JSON + $(mbytes "$srctext") MB of source code, tables $(mbytes "$ondisk") MB on disk"
		echo
		echo "| operation | Cairn s | native | native s | Cairn / native | Cairn peak RSS MB | native peak RSS MB | Cairn CPU s |"
		echo "|---|---:|---|---:|---:|---:|---:|---:|"
		echo "| backup | ${T[cairn_create_$n]} | \`mariadb-dump --single-transaction --no-create-info \| gzip\` | ${T[dump_$n]} | $(ratio "${T[cairn_create_$n]}" "${T[dump_$n]}") | $(mb "${M[cairn_create_$n]}") | $(mb "${M[dump_$n]}") | ${C[cairn_create_$n]} |"
		echo "| restore into an empty target | ${T[cairn_restore_$n]} | $native | ${T[native_restore_$n]} | $(ratio "${T[cairn_restore_$n]}" "${T[native_restore_$n]}") | $(mb "${M[cairn_restore_$n]}") | $(mb "${M[native_restore_$n]}") | ${C[cairn_restore_$n]} |"
		echo "| restore into a target already holding the same rows | ${T[cairn_again_$n]} | the same, into an empty target | ${T[native_restore_$n]} | $(ratio "${T[cairn_again_$n]}" "${T[native_restore_$n]}") | $(mb "${M[cairn_again_$n]}") | | ${C[cairn_again_$n]} |"
		echo "| verify | ${T[cairn_verify_$n]} | — | | | $(mb "${M[cairn_verify_$n]}") | | ${C[cairn_verify_$n]} |"
		echo
		[ "$repeat" = 1 ] || echo "Restores: median of $repeat runs (peak RSS: the largest); wall s of each run: Cairn $(for r in $(seq "$repeat"); do printf '%s ' "${T[cairn_restore_$n.$r]}"; done)· again $(for r in $(seq "$repeat"); do printf '%s ' "${T[cairn_again_$n.$r]}"; done)· native $(for r in $(seq "$repeat"); do printf '%s ' "${T[native_restore_$n.$r]}"; done| sed 's/ $//')."
		[ "$repeat" = 1 ] || echo
		echo "Archive sizes: Cairn $(mbytes "$sz_cairn") MB (encrypted, zstd) · \`mariadb-dump | gzip\` $(mbytes "$sz_dump") MB (gzip 6, not encrypted) · ratio $(ratio "$sz_cairn" "$sz_dump"). Restored databases equal to the source (row count + sum of a hash of every row of every metadata table, every column, \`value\` as JSON): $same. Restored again: every record UNCHANGED: $unchanged."
		echo
	} >>"$report"
done

first=${sizes%% *}; last=${sizes##* }
[ "$first" = "$last" ] || rss_table "$first" "$last" >>"$report"
{
	echo "Whole run: $(( $(date +%s) - started )) s (build, data generation and checks included)."
	echo
} >>"$report"

settings=$(my -e "SELECT CONCAT('innodb_flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit,
	', binary log ', IF(@@log_bin, CONCAT('on (', @@binlog_format, ', sync_binlog=', @@sync_binlog, ')'), 'off'),
	', buffer pool ', @@innodb_buffer_pool_size DIV 1048576, ' MB, redo log ', @@innodb_log_file_size DIV 1048576, ' MB')")
{
	echo "## Cairn benchmark (MariaDB) — $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "\`bench/my_run.sh $sizes\`$([ "$repeat" = 1 ] || echo " (BENCH_REPEAT=$repeat)") (Kestra's indexes as shipped; server: $settings) ·" \
		"$(nproc) cores · kernel $(uname -r) · MariaDB $(my -e 'SELECT VERSION()') server · $(mariadb-dump --version | sed 's/,.*//') · Cairn $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$here" diff --quiet 2>/dev/null || echo '+changes')"
	echo
	cat "$report"
} | tee "$out_md"
