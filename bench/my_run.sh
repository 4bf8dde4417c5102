#!/usr/bin/env bash
# Cairn vs MariaDB's native tools, on the same generated data, in one run.
#
#   bench/my_run.sh [SCALE]
#
# SCALE (default 0.7) multiplies the base sizes 10000 and 100000 flow rows
# (default: 7000 and 70000) (plus n/2 triggers, n/4 KV and namespace-file
# metadata … see bench/gen-mysql.sql). Starts its own throwaway MariaDB on
# 127.0.0.1:${BENCH_MY_PORT:-55478} under /tmp (tests/peers/mariadb.sh), builds
# Cairn in Release into build-bench/ (the same configuration as bench/run.sh),
# and prints a markdown report (also written to ${BENCH_OUT:-bench/last-run-my.md}).
#
# Environment:
#   BENCH_MY_PORT=55478         server port
#   BENCH_SIZES="10000 100000"  override the flow-row counts (SCALE is then ignored)
#   BENCH_KEEP=1                keep the temporary directory and server
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/bench/lib.sh"
scale=${1:-0.7}
bench_sizes "$scale"
port=${BENCH_MY_PORT:-55478}
out_md=${BENCH_OUT:-$here/bench/last-run-my.md}
tables=$bench_tables
started=$(date +%s)

bench_need --hint "apt-get install mariadb-client gzip" mariadb mariadb-dump gzip
bench_build "$here"
[ -f "$here/build-bench/plugins/cairn-source-mysql.so" ] ||
	{ echo "$0: build-bench/ has no MySQL plugin (CAIRN_PLUGIN_MYSQL=OFF? apt-get install libmariadb-dev)" >&2; exit 1; }

bench_tmp cairn-bench-my
bench_server_start mariadb "$tmp/my" "$port"
client=(--no-defaults --protocol=TCP -h 127.0.0.1 -P "$port" -u root --default-character-set=utf8mb4)
my() { mariadb "${client[@]}" -N -B "$@"; }

# Empty Kestra schema (flyway rows included, no metadata records), Kestra's indexes as shipped.
schema_db() {
	my -e "CREATE DATABASE \`$1\`"
	my "$1" <"$here/tests/fixtures/kestra-mysql.sql"
}

# measure NAME CMD… — runs CMD under /usr/bin/time; records "seconds maxrss_kb".
# In a pipeline (sh -c), %M is the largest single process of the pipeline.
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
	schema_db "rc_$n"; schema_db "rn_$n"

	uri_src="mysql://root@127.0.0.1:$port/$src"
	measure "cairn_create_$n" "$cairn" backups create FULL --source "$uri_src"
	uri=$(sed -n 's/^Backup created: //p' "$tmp/out.cairn_create_$n")
	arch=$(ls -t "$tmp"/storage/backups/full/*.cairn | head -n1)
	sz_cairn=$(stat -c %s "$arch")
	# data only (the targets have the schema); no LOCK TABLES / ALTER TABLE … DISABLE KEYS
	# in the output, so that the restore below really is one transaction
	measure "dump_$n" sh -c "mariadb-dump --no-defaults --protocol=TCP -h 127.0.0.1 -P $port -u root --default-character-set=utf8mb4 --single-transaction --no-create-info --skip-add-locks --skip-disable-keys '$src' $(echo $tables) | gzip >'$tmp/dump_$n.sql.gz'"
	sz_dump=$(stat -c %s "$tmp/dump_$n.sql.gz")
	measure "cairn_verify_$n" "$cairn" backups verify "$uri"
	measure "cairn_restore_$n" "$cairn" backups restore "$uri" --source "mysql://root@127.0.0.1:$port/rc_$n"
	measure "native_restore_$n" sh -c "{ echo 'SET autocommit = 0;'; gunzip -c '$tmp/dump_$n.sql.gz'; echo 'COMMIT;'; } | mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P $port -u root --default-character-set=utf8mb4 'rn_$n'"

	checksum "$src" >"$tmp/sum.src"
	same=yes
	for d in "rc_$n" "rn_$n"; do
		checksum "$d" >"$tmp/sum.$d"
		cmp -s "$tmp/sum.src" "$tmp/sum.$d" || { same=NO; echo "$0: $d differs from $src" >&2; diff "$tmp/sum.src" "$tmp/sum.$d" >&2 || true; }
	done
	my "$src" -e "DROP DATABASE \`rn_$n\`"   # keep the server's disk use down between sizes

	RSS_CREATE[$n]=${M[cairn_create_$n]}; RSS_RESTORE[$n]=${M[cairn_restore_$n]}; RSS_VERIFY[$n]=${M[cairn_verify_$n]}
	{
		echo "### $n flow rows — $records records, $(mbytes "$rawtext") MB of keys and JSON + $(mbytes "$srctext") MB of source code, tables $(mbytes "$ondisk") MB on disk"
		echo
		echo "| operation | Cairn s | native | native s | Cairn / native | Cairn peak RSS MB | native peak RSS MB | Cairn CPU s |"
		echo "|---|---:|---|---:|---:|---:|---:|---:|"
		echo "| backup | ${T[cairn_create_$n]} | \`mariadb-dump --single-transaction --no-create-info \| gzip\` | ${T[dump_$n]} | $(ratio "${T[cairn_create_$n]}" "${T[dump_$n]}") | $(mb "${M[cairn_create_$n]}") | $(mb "${M[dump_$n]}") | ${C[cairn_create_$n]} |"
		echo "| restore | ${T[cairn_restore_$n]} | \`gunzip \| mariadb\` (autocommit=0 … COMMIT) | ${T[native_restore_$n]} | $(ratio "${T[cairn_restore_$n]}" "${T[native_restore_$n]}") | $(mb "${M[cairn_restore_$n]}") | $(mb "${M[native_restore_$n]}") | ${C[cairn_restore_$n]} |"
		echo "| verify | ${T[cairn_verify_$n]} | — | | | $(mb "${M[cairn_verify_$n]}") | | ${C[cairn_verify_$n]} |"
		echo
		echo "Archive sizes: Cairn $(mbytes "$sz_cairn") MB (encrypted, zstd) · \`mariadb-dump | gzip\` $(mbytes "$sz_dump") MB (gzip 6, not encrypted) · ratio $(ratio "$sz_cairn" "$sz_dump"). Restored databases equal to the source (row count + sum of a hash of every row of every metadata table, every column, \`value\` as JSON): $same."
		echo
	} >>"$report"
done

first=${sizes%% *}; last=${sizes##* }
rss_table "$first" "$last" >>"$report"
{
	echo "Whole run: $(( $(date +%s) - started )) s (build, data generation and checks included)."
	echo
} >>"$report"

{
	echo "## Cairn benchmark (MariaDB) — $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "\`$(bench_command my_run.sh "$scale")\` (sizes: $sizes flow rows, Kestra's indexes as shipped) ·" \
		"$(nproc) cores · kernel $(uname -r) · MariaDB $(my -e 'SELECT VERSION()') server · $(mariadb-dump --version | sed 's/,.*//') · Cairn $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$here" diff --quiet 2>/dev/null || echo '+changes')"
	echo
	cat "$report"
} | tee "$out_md"
