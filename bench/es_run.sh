#!/usr/bin/env bash
# Cairn's Elasticsearch plugin against Cairn's own PostgreSQL path, on the same generated
# data, in one run: restore of a PostgreSQL backup into Elasticsearch vs into PostgreSQL
# (fs → PostgreSQL), and backup from Elasticsearch vs from PostgreSQL.
#
#   bench/es_run.sh [SCALE]
#
# SCALE (default 1) multiplies the base sizes 10000 and 100000 flow rows (plus n/2
# triggers, n/4 KV and namespace-file metadata … see bench/gen.sql); about 5 minutes on
# 2 cores (SCALE 2, the issue's 200k-flow data set: about 12). Starts its own throwaway PostgreSQL and, for each size, a fresh
# Elasticsearch-API test server (tests/peers/elasticsearch.sh), builds Cairn in Release
# into build-bench/, and prints a markdown report (also written to
# ${BENCH_OUT:-bench/last-run-es.md}).
#
# The test server is our Python emulator of the REST API, not Elasticsearch: its speed says
# nothing about a real cluster's. What this measures is Cairn's client side — its memory
# staying flat as the data grows, its CPU, and the cost of the protocol (JSON over HTTP,
# _bulk, PIT + search_after paging) against the PostgreSQL wire protocol. The server's own
# peak RSS and CPU are reported apart.
#
# Environment:
#   BENCH_ES_PG_PORT=55488      PostgreSQL port
#   BENCH_ES_PORT=55489         test server port
#   BENCH_SIZES="10000 100000"  override the flow-row counts (SCALE is then ignored)
#   BENCH_KESTRA_INDEXES=1      keep Kestra's flows_source_code GIN index (see README.md)
#   BENCH_KEEP=1                keep the temporary directory and PostgreSQL
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/bench/lib.sh"
scale=${1:-1}
bench_sizes "$scale"
port=${BENCH_ES_PG_PORT:-55488}
esport=${BENCH_ES_PORT:-55489}
out_md=${BENCH_OUT:-$here/bench/last-run-es.md}
started=$(date +%s)

bench_need psql jq python3
bench_build "$here"
[ -f "$here/build-bench/plugins/cairn-source-elasticsearch.so" ] ||
	{ echo "$0: build-bench/ has no Elasticsearch plugin (apt-get install libcurl4-openssl-dev libjansson-dev)" >&2; exit 1; }
bench_tmp cairn-bench-es
bench_pg_start "$tmp/pg" "$port"
es_uri="elasticsearch://127.0.0.1:$esport"

declare -A T M C SM SC

# The test server is one long-lived process: its share of an operation is the CPU it spent
# meanwhile (utime + stime from /proc) and its peak RSS over it (VmHWM, reset beforehand
# through clear_refs).
clk=$(getconf CLK_TCK)
srv_cpu() { sed 's/^.*) //' "/proc/$es_pid/stat" | awk '{print $12 + $13}'; }
# measure_srv NAME CMD… — measure, plus SC[NAME] server CPU s and SM[NAME] server peak RSS KiB.
measure_srv() {
	local name=$1 c0 c1
	echo 5 >"/proc/$es_pid/clear_refs"
	c0=$(srv_cpu)
	measure "$@"
	c1=$(srv_cpu)
	SC[$name]=$(awk -v a="$c0" -v b="$c1" -v t="$clk" 'BEGIN{printf "%.2f", (b - a) / t}')
	SM[$name]=$(awk '/^VmHWM:/{print $2}' "/proc/$es_pid/status")
	echo "   $name: test server $(( SM[$name] / 1024 )) MB, ${SC[$name]} s CPU" >&2
}

# "KIND records" lines, sorted: from a create answer (summary) or a restore answer (kinds).
kinds_of() {
	jq -r 'if .summary then .summary | to_entries[] | "\(.key) \(.value)"
		else .kinds | to_entries[] | "\(.key) \(.value.records)" end' "$1" | sort
}

report="$tmp/report.md"
: >"$report"
declare -A RSS_PG_CREATE RSS_PG_RESTORE RSS_ES_CREATE RSS_ES_RESTORE SRV_RESTORE SRV_CREATE

for n in $sizes; do
	echo "== size $n flow rows" >&2
	src=src_$n
	bench_pg_source "$src" "$n"
	bench_pg_schema_db "rp_$n"; bench_pg_schema_db "re_$n"
	pg -d postgres -c "CHECKPOINT"
	esdir=$tmp/es_$n
	bench_server_start elasticsearch "$esdir" "$esport"
	es_pid=$(cat "$esdir/elasticsearch.pid")

	# backup A, from PostgreSQL to fs: the archive both restores read
	measure "pg_create_$n" "$cairn" backups create FULL --source "postgresql://postgres@127.0.0.1:$port/$src" --output json
	uri_a=$(jq -r .uri "$tmp/out.pg_create_$n")
	sz_a=$(jq -r .bytes "$tmp/out.pg_create_$n")
	pg -d postgres -c "CHECKPOINT"
	measure_srv "es_restore_$n" "$cairn" backups restore "$uri_a" --source "$es_uri" --output json
	pg -d postgres -c "CHECKPOINT"
	measure "pg_restore_$n" "$cairn" backups restore "$uri_a" --source "postgresql://postgres@127.0.0.1:$port/rp_$n" --output json
	# backup B, from Elasticsearch (what A's restore wrote there)
	measure_srv "es_create_$n" "$cairn" backups create FULL --source "$es_uri" --output json
	uri_b=$(jq -r .uri "$tmp/out.es_create_$n")
	sz_b=$(jq -r .bytes "$tmp/out.es_create_$n")
	srv_rss=$(awk '/^VmRSS:/{print $2}' "/proc/$es_pid/status")
	srv_disk=$(du -sk "$esdir/data" | awk '{print $1}')
	bench_server_stop "$esdir"
	pg -d postgres -c "CHECKPOINT"
	measure "espg_restore_$n" "$cairn" backups restore "$uri_b" --source "postgresql://postgres@127.0.0.1:$port/re_$n" --output json

	# Records per kind at every step: A as backed up, as written into Elasticsearch, B as
	# read back from it, B as written into PostgreSQL; and the rows per table there.
	kinds_of "$tmp/out.pg_create_$n" >"$tmp/kinds.a"
	counts=yes
	for step in es_restore es_create espg_restore; do
		kinds_of "$tmp/out.${step}_$n" >"$tmp/kinds.$step"
		cmp -s "$tmp/kinds.a" "$tmp/kinds.$step" || { counts=NO; echo "$0: $step: records per kind differ from the source's" >&2; diff "$tmp/kinds.a" "$tmp/kinds.$step" >&2 || true; }
	done
	bench_pg_checksum "$src" >"$tmp/sum.src"
	bench_pg_checksum "rp_$n" >"$tmp/sum.rp"
	bench_pg_checksum "re_$n" >"$tmp/sum.re"
	cut -d'|' -f1,2 "$tmp/sum.src" >"$tmp/rows.src"
	cut -d'|' -f1,2 "$tmp/sum.re" >"$tmp/rows.re"
	cmp -s "$tmp/rows.src" "$tmp/rows.re" || { counts=NO; echo "$0: re_$n: rows per table differ from $src" >&2; diff "$tmp/rows.src" "$tmp/rows.re" >&2 || true; }
	same_pg=yes
	cmp -s "$tmp/sum.src" "$tmp/sum.rp" || { same_pg=NO; echo "$0: rp_$n differs from $src" >&2; diff "$tmp/sum.src" "$tmp/sum.rp" >&2 || true; }
	# the tables whose row hash differs (README.md says which the mapping changes, and how)
	hash_differ=$(paste -d'|' "$tmp/sum.src" "$tmp/sum.re" | awk -F'|' '$3 != $6 {print $1}' | paste -sd, - | sed 's/,/, /g')
	tables_n=$(wc -l <"$tmp/sum.src")
	hash_equal=$(paste -d'|' "$tmp/sum.src" "$tmp/sum.re" | awk -F'|' '$3 == $6' | wc -l)
	pg -d postgres -c "DROP DATABASE rp_$n" -c "DROP DATABASE re_$n"   # keep the disk use down between sizes

	RSS_PG_CREATE[$n]=${M[pg_create_$n]}; RSS_PG_RESTORE[$n]=${M[pg_restore_$n]}
	RSS_ES_CREATE[$n]=${M[es_create_$n]}; RSS_ES_RESTORE[$n]=${M[es_restore_$n]}
	SRV_RESTORE[$n]=${SM[es_restore_$n]}; SRV_CREATE[$n]=${SM[es_create_$n]}
	{
		echo "### $n flow rows — $records records, $(mbytes "$rawtext") MB of row text"
		echo
		echo "| operation | Elasticsearch s | PostgreSQL s | ES / PG | Cairn peak RSS MB, ES | Cairn peak RSS MB, PG | Cairn CPU s, ES | Cairn CPU s, PG | test server CPU s | test server peak RSS MB |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		echo "| restore of A (fs → target) | ${T[es_restore_$n]} | ${T[pg_restore_$n]} | $(ratio "${T[es_restore_$n]}" "${T[pg_restore_$n]}") | $(mb "${M[es_restore_$n]}") | $(mb "${M[pg_restore_$n]}") | ${C[es_restore_$n]} | ${C[pg_restore_$n]} | ${SC[es_restore_$n]} | $(mb "${SM[es_restore_$n]}") |"
		echo "| backup (source → fs) | ${T[es_create_$n]} | ${T[pg_create_$n]} | $(ratio "${T[es_create_$n]}" "${T[pg_create_$n]}") | $(mb "${M[es_create_$n]}") | $(mb "${M[pg_create_$n]}") | ${C[es_create_$n]} | ${C[pg_create_$n]} | ${SC[es_create_$n]} | $(mb "${SM[es_create_$n]}") |"
		echo "| restore of B (the ES backup) into PostgreSQL | | ${T[espg_restore_$n]} | | | $(mb "${M[espg_restore_$n]}") | | ${C[espg_restore_$n]} | | |"
		echo
		echo "A: backup of PostgreSQL, $(mbytes "$sz_a") MB · B: backup of the test server after A's restore, $(mbytes "$sz_b") MB (both encrypted, zstd)." \
			"Test server after the backup: $(mb "$srv_rss") MB resident, journal $(mb "$srv_disk") MB on disk." \
			"Records per kind equal at every step (A, written into ES, B, B written into PostgreSQL, rows per table): $counts." \
			"A restored into PostgreSQL equal to the source (count + hash of every row of every table): $same_pg." \
			"B restored into PostgreSQL, same row hash: $hash_equal of $tables_n tables equal${hash_differ:+ (differ: $hash_differ)}."
		echo
	} >>"$report"
done

first=${sizes%% *}; last=${sizes##* }
{
	rss_table "$first" "$last" "Peak RSS of Cairn" \
		"restore into Elasticsearch" RSS_ES_RESTORE "restore into PostgreSQL" RSS_PG_RESTORE \
		"backup from Elasticsearch" RSS_ES_CREATE "backup from PostgreSQL" RSS_PG_CREATE
	rss_table "$first" "$last" "Peak RSS of the test server (Python emulator; it holds every document in memory)" \
		"during the restore" SRV_RESTORE "during the backup" SRV_CREATE
	echo "Whole run: $(( $(date +%s) - started )) s (build, data generation and checks included)."
	echo
} >>"$report"

{
	echo "## Cairn benchmark (Elasticsearch) — $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "\`$(bench_command es_run.sh "$scale")\` (sizes: $sizes flow rows$( [ "${BENCH_KESTRA_INDEXES:-0}" = 1 ] && echo ", with" || echo ", without") Kestra's flows_source_code GIN index) ·" \
		"$(nproc) cores · kernel $(uname -r) · PostgreSQL $(pg -d postgres -c 'SHOW server_version') · Cairn's Elasticsearch-API test server (Python $(python3 -c 'import platform; print(platform.python_version())')) · Cairn $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$here" diff --quiet 2>/dev/null || echo '+changes')"
	echo
	echo "The Elasticsearch side is our Python emulator of the REST API (tests/peers/es/), not Elasticsearch:" \
		"its speed is not a cluster's, and the wall times of the Elasticsearch column are mostly the emulator's." \
		"What the row measures is Cairn's client side: its peak RSS staying flat with the data, its CPU, and the" \
		"protocol's overhead (JSON over HTTP, \`_bulk\`, PIT + \`search_after\` pages) next to the PostgreSQL plugin's."
	echo
	cat "$report"
} | tee "$out_md"
