#!/usr/bin/env bash
# Cairn vs PostgreSQL's native tools, on the same generated data, in one run.
#
#   bench/run.sh [SCALE]
#
# SCALE (default 0.7) multiplies the base sizes 10000 and 100000 flow rows
# (default: 7000 and 70000, about 5 minutes on 2 cores) (plus n/2 triggers, n/4 KV and namespace-file
# metadata … see bench/gen.sql). Starts its own throwaway PostgreSQL on
# 127.0.0.1:${BENCH_PORT:-55477} under /tmp, builds Cairn in Release into
# build-bench/, and prints a markdown report (also written to
# ${BENCH_OUT:-bench/last-run.md}).
#
# Environment:
#   BENCH_PORT=55477            server port (not 55433: the test suite uses it)
#   BENCH_SIZES="10000 100000"  override the flow-row counts (SCALE is then ignored)
#   BENCH_KESTRA_INDEXES=1      keep Kestra's flows_source_code GIN index (see README.md)
#   BENCH_KEEP=1                keep the temporary directory and server
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/bench/lib.sh"
scale=${1:-0.7}
bench_sizes "$scale"
port=${BENCH_PORT:-55477}
out_md=${BENCH_OUT:-$here/bench/last-run.md}
tables=$bench_tables

bench_need pg_dump pg_restore psql zstd openssl
bench_build "$here"
bench_tmp cairn-bench
bench_pg_start "$tmp/pg" "$port"
export BENCH_PASS=$(head -c 32 /dev/urandom | base64)   # for the native encrypted pipeline

# measure NAME CMD… — runs CMD under /usr/bin/time; records "seconds maxrss_kb".
# In a pipeline (sh -c), %M is the largest single process of the pipeline.
declare -A T M C

tflags=""
for t in $tables; do tflags="$tflags -t $t"; done
report="$tmp/report.md"
: >"$report"
declare -A RSS_CREATE RSS_RESTORE RSS_VERIFY

for n in $sizes; do
	echo "== size $n flow rows" >&2
	src=src_$n
	bench_pg_source "$src" "$n"
	raw=$(pg -d "$src" -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relname IN ($(printf "'%s'," $tables | sed 's/,$//')) AND c.relkind = 'r'")
	bench_pg_schema_db "rc_$n"; bench_pg_schema_db "rn_$n"; bench_pg_schema_db "rp_$n"
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
	measure "cairn_restore_$n" "$cairn" backups restore "$uri" --source "postgresql://postgres@127.0.0.1:$port/rc_$n"
	pg -d postgres -c "CHECKPOINT"
	measure "pgrestore_$n" pg_restore -1 --data-only -d "rn_$n" "$tmp/dump_$n.pgc"
	pg -d postgres -c "CHECKPOINT"
	measure "pgrestore_pipe_$n" sh -c "openssl enc -d -aes-256-ctr -pbkdf2 -pass env:BENCH_PASS -in '$tmp/dump_$n.sql.zst.enc' | zstd -q -d | psql -X -q -1 -v ON_ERROR_STOP=1 -o /dev/null -d 'rp_$n'"

	bench_pg_checksum "$src" >"$tmp/sum.src"
	same=yes
	for d in "rc_$n" "rn_$n" "rp_$n"; do
		bench_pg_checksum "$d" >"$tmp/sum.$d"
		cmp -s "$tmp/sum.src" "$tmp/sum.$d" || { same=NO; echo "$0: $d differs from $src" >&2; diff "$tmp/sum.src" "$tmp/sum.$d" >&2 || true; }
	done

	RSS_CREATE[$n]=${M[cairn_create_$n]}; RSS_RESTORE[$n]=${M[cairn_restore_$n]}; RSS_VERIFY[$n]=${M[cairn_verify_$n]}
	{
		echo "### $n flow rows — $records records, $(mbytes "$rawtext") MB of row text, tables $(mbytes "$raw") MB on disk"
		echo
		echo "| operation | Cairn s | native | native s | Cairn / native | Cairn peak RSS MB | native peak RSS MB | Cairn CPU s |"
		echo "|---|---:|---|---:|---:|---:|---:|---:|"
		echo "| backup | ${T[cairn_create_$n]} | \`pg_dump -F c -a\` | ${T[pgdump_c_$n]} | $(ratio "${T[cairn_create_$n]}" "${T[pgdump_c_$n]}") | $(mb "${M[cairn_create_$n]}") | $(mb "${M[pgdump_c_$n]}") | ${C[cairn_create_$n]} |"
		echo "| backup | ${T[cairn_create_$n]} | \`pg_dump -F p -a \| zstd -3 \| openssl enc\` | ${T[pgdump_pipe_$n]} | $(ratio "${T[cairn_create_$n]}" "${T[pgdump_pipe_$n]}") | $(mb "${M[cairn_create_$n]}") | $(mb "${M[pgdump_pipe_$n]}") | ${C[cairn_create_$n]} |"
		echo "| restore | ${T[cairn_restore_$n]} | \`pg_restore -1 --data-only\` | ${T[pgrestore_$n]} | $(ratio "${T[cairn_restore_$n]}" "${T[pgrestore_$n]}") | $(mb "${M[cairn_restore_$n]}") | $(mb "${M[pgrestore_$n]}") | ${C[cairn_restore_$n]} |"
		echo "| restore | ${T[cairn_restore_$n]} | \`openssl enc -d \| zstd -d \| psql -1\` | ${T[pgrestore_pipe_$n]} | $(ratio "${T[cairn_restore_$n]}" "${T[pgrestore_pipe_$n]}") | $(mb "${M[cairn_restore_$n]}") | $(mb "${M[pgrestore_pipe_$n]}") | ${C[cairn_restore_$n]} |"
		echo "| verify | ${T[cairn_verify_$n]} | — | | | $(mb "${M[cairn_verify_$n]}") | | ${C[cairn_verify_$n]} |"
		echo
		echo "Archive sizes: Cairn $(mbytes "$sz_cairn") MB (encrypted, zstd) · \`pg_dump -F c\` $(mbytes "$sz_pgc") MB (gzip 6, not encrypted) · pipeline $(mbytes "$sz_pipe") MB (zstd -3, AES-256-CTR). Restored databases equal to the source (count + hash of every row of every table): $same."
		echo
	} >>"$report"
done

first=${sizes%% *}; last=${sizes##* }
rss_table "$first" "$last" >>"$report"

{
	echo "## Cairn benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "\`$(bench_command run.sh "$scale")\` (sizes: $sizes flow rows$( [ "${BENCH_KESTRA_INDEXES:-0}" = 1 ] && echo ", with" || echo ", without") Kestra's flows_source_code GIN index) ·" \
		"$(nproc) cores · kernel $(uname -r) · $(pg -d postgres -c 'SHOW server_version') server · pg_dump $(pg_dump --version | awk '{print $3}') · Cairn $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$here" diff --quiet 2>/dev/null || echo '+changes')"
	echo
	cat "$report"
} | tee "$out_md"
