#!/usr/bin/env bash
# Cairn vs PostgreSQL's native tools, on the same generated data, in one run.
#
#   bench/run.sh [FLOW_ROWS…]
#
# FLOW_ROWS (default 200000; 200000 2000000 for the flat-memory check of issue 10) are
# the sizes, in flow rows (plus n/2 triggers, n/4 KV and namespace-file metadata … see
# bench/gen.sql). Starts its own throwaway PostgreSQL on 127.0.0.1:${BENCH_PORT:-55477}
# under /tmp with durable settings, builds Cairn in Release into build-bench/, and prints
# a markdown report (also written to ${BENCH_OUT:-bench/last-run.md}). Exits 1 when a
# restored database differs from its source.
#
# Environment:
#   BENCH_PORT=55477            server port (not 55433: the test suite uses it)
#   BENCH_SIZES="200000"        the sizes, when no argument gives them
#   BENCH_DURABLE=1             fsync, synchronous_commit, full_page_writes on (PostgreSQL's
#                               defaults, as operators run it); 0: the test suite's fast settings
#   BENCH_EXTERNAL=1            use the server already on BENCH_PORT (superuser postgres, no
#                               password) instead of starting one; its databases bench_* are
#                               dropped at the end (the test suite's smoke run)
#   BENCH_CAIRN=path/to/cairn   measure that build (with CAIRN_PLUGIN_PATH) instead of building
#   BENCH_KESTRA_INDEXES=1      keep Kestra's flows_source_code GIN index (see README.md)
#   BENCH_KEEP=1                keep the temporary directory and server
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
for a in "$@"; do
	case "$a" in '' | *[!0-9]*) echo "usage: $0 [FLOW_ROWS…]" >&2; exit 2 ;; esac
done
sizes=${*:-${BENCH_SIZES:-200000}}
port=${BENCH_PORT:-55477}
durable=${BENCH_DURABLE:-1}
external=${BENCH_EXTERNAL:-0}
out_md=${BENCH_OUT:-$here/bench/last-run.md}
tables="bindings blueprints dashboards flows groups kv_metadata namespaces namespace_file_metadata
roles secrets security_integrations settings templates tenants tenant_access triggers users"

if [ ! -x /usr/bin/time ]; then
	apt-get install -y time >/dev/null
fi
for tool in pg_dump pg_restore psql zstd openssl; do
	command -v "$tool" >/dev/null || { echo "$0: $tool is missing" >&2; exit 1; }
done

. "$here/bench/lib.sh"
bench_build "$here"

tmp=$(mktemp -d /tmp/cairn-bench.XXXXXX)
chmod 755 "$tmp"
export PGOPTIONS="-c client_min_messages=warning"
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
pg() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
# database names: prefixed, so that a shared server (BENCH_EXTERNAL) keeps its own
db() { echo "bench_$1"; }
dbs=""
cleanup() {
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "kept $tmp (server on port $port)" >&2
		return
	fi
	if [ "$external" = 1 ]; then
		for d in $dbs; do pg -d postgres -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true; done
	else
		"$here/tests/peers/postgresql.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
if [ "$external" = 1 ]; then
	pg_isready -q -h 127.0.0.1 -p "$port" || { echo "$0: no server on 127.0.0.1:$port" >&2; exit 1; }
	settings="the server already on port $port"
else
	"$here/tests/peers/postgresql.sh" start "$tmp/pg" "$port" $([ "$durable" = 1 ] && echo --durable) >&2
	bench_server_pid=$(head -n1 "$tmp/pg/data/postmaster.pid")
	settings=$(pg -d postgres -c "SELECT 'fsync=' || current_setting('fsync') || ', synchronous_commit=' ||
		current_setting('synchronous_commit') || ', full_page_writes=' || current_setting('full_page_writes') ||
		', shared_buffers=' || current_setting('shared_buffers') || ', max_wal_size=' || current_setting('max_wal_size')")
fi

export CAIRN_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
export CAIRN_STORAGE="file://$tmp/storage"
export BENCH_PASS=$(head -c 32 /dev/urandom | base64)   # for the native encrypted pipeline

# Empty Kestra schema (flyway rows included, no metadata records).
schema_db() {
	pg -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
	dbs="$dbs $1"
	pg -d "$1" -f "$here/tests/fixtures/kestra-postgres.sql"
	# pg_dump/pg_restore run with search_path = '': Kestra's FULLTEXT_INDEX calls
	# FULLTEXT_REPLACE unqualified and COPY into a table whose generated columns use it
	# fails ("function fulltext_replace(text, unknown) does not exist"). Qualify the call,
	# in every database, so that the native restore can work at all (same body otherwise).
	pg -d "$1" -c "CREATE OR REPLACE FUNCTION FULLTEXT_INDEX(text) RETURNS tsvector
	    AS 'SELECT TO_TSVECTOR(''simple'', public.FULLTEXT_REPLACE(\$1, '' '')) || TO_TSVECTOR(''simple'', \$1)'
	    LANGUAGE SQL IMMUTABLE RETURNS NULL ON NULL INPUT"
	if [ "${BENCH_KESTRA_INDEXES:-0}" != 1 ]; then
		pg -d "$1" -c "DROP INDEX flows_source_code"
	fi
}

# measure NAME CMD… (bench/lib.sh) — records wall s, peak RSS, client CPU, server CPU.
# In a pipeline (sh -c), %M is the largest single process of the pipeline.
declare -A T M C S

checksum() {   # one line per table: count and an order-independent hash sum
	for t in $tables; do
		pg -d "$1" -c "SELECT '$t', count(*), coalesce(sum(hashtextextended(x::text, 0)::numeric), 0) FROM $t x"
	done
}
srv() { [ -n "${S[$1]:-}" ] && echo "${S[$1]}" || echo "—"; }

tflags=""
for t in $tables; do tflags="$tflags -t $t"; done
report="$tmp/report.md"
: >"$report"
declare -A RSS_CREATE RSS_RESTORE RSS_VERIFY
all_same=yes

for n in $sizes; do
	echo "== size $n flow rows" >&2
	src=$(db "src_$n") rc=$(db "rc_$n") rn=$(db "rn_$n") rp=$(db "rp_$n")
	schema_db "$src"
	t0=$(date +%s)
	pg -d "$src" -v n="$n" -f "$here/bench/gen.sql"
	echo "   generated in $(( $(date +%s) - t0 )) s" >&2
	records=$(for t in $tables; do pg -d "$src" -c "SELECT count(*) FROM $t"; done | awk '{s+=$1} END{print s}')
	raw=$(pg -d "$src" -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relname IN ($(printf "'%s'," $tables | sed 's/,$//')) AND c.relkind = 'r'")
	rawtext=$(for t in $tables; do pg -d "$src" -c "SELECT coalesce(sum(octet_length(x::text)), 0) FROM $t x"; done | awk '{s+=$1} END{print s}')
	schema_db "$rc"; schema_db "$rn"; schema_db "$rp"
	pg -d "$src" -c "VACUUM ANALYZE"
	pg -d postgres -c "CHECKPOINT"

	uri_src="postgresql://postgres@127.0.0.1:$port/$src"
	measure "cairn_create_$n" "$cairn" backups create FULL --source "$uri_src"
	uri=$(sed -n 's/^Backup created: //p' "$tmp/out.cairn_create_$n")
	arch=$(ls -t "$tmp"/storage/backups/full/*.cairn | head -n1)
	sz_cairn=$(stat -c %s "$arch")
	measure "pgdump_c_$n" pg_dump -F c -a $tflags -f "$tmp/dump_$n.pgc" "$src"
	sz_pgc=$(stat -c %s "$tmp/dump_$n.pgc")
	measure "pgdump_pipe_$n" sh -c "pg_dump -F p -a $tflags '$src' | zstd -q -3 -T1 | openssl enc -aes-256-ctr -pbkdf2 -pass env:BENCH_PASS -out '$tmp/dump_$n.sql.zst.enc'"
	sz_pipe=$(stat -c %s "$tmp/dump_$n.sql.zst.enc")
	measure "cairn_verify_$n" "$cairn" backups verify "$uri"
	pg -d postgres -c "CHECKPOINT"
	measure "cairn_restore_$n" "$cairn" backups restore "$uri" --source "postgresql://postgres@127.0.0.1:$port/$rc"
	pg -d postgres -c "CHECKPOINT"
	measure "pgrestore_$n" pg_restore -1 --data-only -d "$rn" "$tmp/dump_$n.pgc"
	pg -d postgres -c "CHECKPOINT"
	measure "pgrestore_pipe_$n" sh -c "openssl enc -d -aes-256-ctr -pbkdf2 -pass env:BENCH_PASS -in '$tmp/dump_$n.sql.zst.enc' | zstd -q -d | psql -X -q -1 -v ON_ERROR_STOP=1 -o /dev/null -d '$rp'"

	checksum "$src" >"$tmp/sum.src"
	same=yes
	check_same() {
		checksum "$1" >"$tmp/sum.$1"
		cmp -s "$tmp/sum.src" "$tmp/sum.$1" || { same=NO; all_same=NO; echo "$0: $1 differs from $src" >&2; diff "$tmp/sum.src" "$tmp/sum.$1" >&2 || true; }
	}
	for d in "$rc" "$rn" "$rp"; do check_same "$d"; done
	# again, into the database Cairn just restored: every record is there already (upserts, all UNCHANGED)
	pg -d "$rc" -c "VACUUM ANALYZE"
	pg -d postgres -c "CHECKPOINT"
	measure "cairn_again_$n" "$cairn" backups restore "$uri" --source "postgresql://postgres@127.0.0.1:$port/$rc" --output json
	check_same "$rc"
	unchanged=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))
print("yes" if all(k["new"] == 0 and k["changed"] == 0 for k in r["kinds"].values()) else "NO")' "$tmp/out.cairn_again_$n")
	[ "$unchanged" = yes ] || { same=NO; all_same=NO; echo "$0: restoring again into $rc changed records" >&2; }

	RSS_CREATE[$n]=${M[cairn_create_$n]}; RSS_RESTORE[$n]=${M[cairn_restore_$n]}; RSS_VERIFY[$n]=${M[cairn_verify_$n]}
	maxrss=$(printf '%s\n' "${M[cairn_create_$n]}" "${M[cairn_restore_$n]}" "${M[cairn_again_$n]}" "${M[cairn_verify_$n]}" | sort -n | tail -n1)
	{
		echo "### $n flow rows — $records records, $(mbytes "$rawtext") MB of row text, tables $(mbytes "$raw") MB on disk"
		echo
		echo "| operation | Cairn s | native | native s | Cairn / native | Cairn peak RSS MB | native peak RSS MB | Cairn CPU s | server CPU s, Cairn / native |"
		echo "|---|---:|---|---:|---:|---:|---:|---:|---:|"
		echo "| backup | ${T[cairn_create_$n]} | \`pg_dump -F c -a\` | ${T[pgdump_c_$n]} | $(ratio "${T[cairn_create_$n]}" "${T[pgdump_c_$n]}") | $(mb "${M[cairn_create_$n]}") | $(mb "${M[pgdump_c_$n]}") | ${C[cairn_create_$n]} | $(srv "cairn_create_$n") / $(srv "pgdump_c_$n") |"
		echo "| backup | ${T[cairn_create_$n]} | \`pg_dump -F p -a \| zstd -3 \| openssl enc\` | ${T[pgdump_pipe_$n]} | $(ratio "${T[cairn_create_$n]}" "${T[pgdump_pipe_$n]}") | $(mb "${M[cairn_create_$n]}") | $(mb "${M[pgdump_pipe_$n]}") | ${C[cairn_create_$n]} | $(srv "cairn_create_$n") / $(srv "pgdump_pipe_$n") |"
		echo "| restore into empty | ${T[cairn_restore_$n]} | \`pg_restore -1 --data-only\` | ${T[pgrestore_$n]} | $(ratio "${T[cairn_restore_$n]}" "${T[pgrestore_$n]}") | $(mb "${M[cairn_restore_$n]}") | $(mb "${M[pgrestore_$n]}") | ${C[cairn_restore_$n]} | $(srv "cairn_restore_$n") / $(srv "pgrestore_$n") |"
		echo "| restore into empty | ${T[cairn_restore_$n]} | \`openssl enc -d \| zstd -d \| psql -1\` | ${T[pgrestore_pipe_$n]} | $(ratio "${T[cairn_restore_$n]}" "${T[pgrestore_pipe_$n]}") | $(mb "${M[cairn_restore_$n]}") | $(mb "${M[pgrestore_pipe_$n]}") | ${C[cairn_restore_$n]} | $(srv "cairn_restore_$n") / $(srv "pgrestore_pipe_$n") |"
		echo "| restore into a target holding the same rows | ${T[cairn_again_$n]} | \`pg_restore -1 --data-only\` into empty (no upsert) | ${T[pgrestore_$n]} | $(ratio "${T[cairn_again_$n]}" "${T[pgrestore_$n]}") | $(mb "${M[cairn_again_$n]}") | $(mb "${M[pgrestore_$n]}") | ${C[cairn_again_$n]} | $(srv "cairn_again_$n") / $(srv "pgrestore_$n") |"
		echo "| verify | ${T[cairn_verify_$n]} | — | | | $(mb "${M[cairn_verify_$n]}") | | ${C[cairn_verify_$n]} | |"
		echo
		echo "Archive sizes: Cairn $(mbytes "$sz_cairn") MB (encrypted, zstd) · \`pg_dump -F c\` $(mbytes "$sz_pgc") MB (gzip 6, not encrypted) · pipeline $(mbytes "$sz_pipe") MB (zstd -3, AES-256-CTR). Restored databases equal to the source (count + hash of every row of every table), the second Cairn restore included, which reported every record UNCHANGED: $same."
		echo
		echo "Issue 10's goals at $n flow rows: backup / \`pg_dump -F c -a\` **$(ratio "${T[cairn_create_$n]}" "${T[pgdump_c_$n]}")** (goal ≤ 0.90) · restore into empty / \`pg_restore -1 -a\` **$(ratio "${T[cairn_restore_$n]}" "${T[pgrestore_$n]}")** (≤ 1.00) · restore into a target holding the rows / \`pg_restore -1 -a\` **$(ratio "${T[cairn_again_$n]}" "${T[pgrestore_$n]}")** (≤ 1.50) · Cairn's largest peak RSS **$(mb "$maxrss") MB** (≤ 64 MiB)."
		echo
	} >>"$report"
done

first=${sizes%% *}; last=${sizes##* }
[ "$first" = "$last" ] || rss_table "$first" "$last" >>"$report"

{
	echo "## Cairn benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "\`bench/run.sh $sizes\` (flow rows$( [ "${BENCH_KESTRA_INDEXES:-0}" = 1 ] && echo ", with" || echo ", without") Kestra's flows_source_code GIN index) ·" \
		"$(nproc) cores · kernel $(uname -r) · $(pg -d postgres -c 'SHOW server_version') server ($settings) · pg_dump $(pg_dump --version | awk '{print $3}') · Cairn $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$here" diff --quiet 2>/dev/null || echo '+changes')"
	echo
	cat "$report"
} | tee "$out_md"
[ "$all_same" = yes ] || { echo "$0: a restored database differs from its source" >&2; exit 1; }
