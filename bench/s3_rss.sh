#!/usr/bin/env bash
# Peak RSS of `cairn backups create` uploading to S3 (Ceph RGW) with parallel
# multipart parts: a small archive vs a large one, both incompressible, so
# that the archive is as large as the data. Memory should not grow with the
# size: the s3 writer holds at most `parallel` + 1 part buffers.
#
#   bench/s3_rss.sh                 100 MB vs 1000 MB of random data
#   BENCH_S3_SIZES="50 500" bench/s3_rss.sh
#
# Environment: BENCH_S3_PG_PORT (55486), BENCH_S3_RGW_PORT (55487),
# BENCH_S3_PARALLEL (4), BENCH_S3_PART_SIZE (8M), BENCH_KEEP=1 keeps the temp dir.
# Builds Cairn in Release into build-bench/ (BENCH_BUILD_DIR; like bench/run.sh); starts its own
# PostgreSQL (tests/peers/postgresql.sh) and RGW (tests/peers/rgw.sh, memstore
# of 4 GiB: RGW keeps objects in RAM here) and stops them at the end. Each
# uploaded backup is deleted right after its measurement.
# Prints a markdown table (also written to bench/s3-last-run.md, or $BENCH_OUT).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
sizes=${BENCH_S3_SIZES:-"100 1000"}
pgport=${BENCH_S3_PG_PORT:-55486}
rgwport=${BENCH_S3_RGW_PORT:-55487}
parallel=${BENCH_S3_PARALLEL:-4}
part_size=${BENCH_S3_PART_SIZE:-8M}
out_md=${BENCH_OUT:-$here/bench/s3-last-run.md}

[ -x /usr/bin/time ] || apt-get install -y time >/dev/null

echo "== building Cairn (Release) into build-bench/" >&2
build=${BENCH_BUILD_DIR:-$here/build-bench}
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
cairn="$build/core/cairn"
export CAIRN_PLUGIN_PATH="$build/plugins" CAIRN_CONFIG=/dev/null

tmp=$(mktemp -d /tmp/cairn-s3bench.XXXXXX)
chmod 755 "$tmp"
cleanup() {
	"$here/tests/peers/rgw.sh" stop "$tmp/rgw" >/dev/null 2>&1 || true
	"$here/tests/peers/postgresql.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
	if [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$tmp"; else echo "kept $tmp" >&2; fi
}
trap cleanup EXIT
"$here/tests/peers/postgresql.sh" start "$tmp/pg" "$pgport" >&2
CAIRN_RGW_MEMSTORE_BYTES=$((${BENCH_S3_MEMSTORE_GB:-4} * 1024 * 1024 * 1024)) "$here/tests/peers/rgw.sh" start "$tmp/rgw" "$rgwport" >&2

export PGOPTIONS="-c client_min_messages=warning"
export PGHOST=127.0.0.1 PGPORT=$pgport PGUSER=postgres
pg() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
export CAIRN_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
export AWS_ACCESS_KEY_ID=cairntest AWS_SECRET_ACCESS_KEY=cairntestsecret
export AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
bucket=bench

# a bucket, by a SigV4-signed PUT (Python standard library)
python3 - "http://127.0.0.1:$rgwport" "$bucket" <<'PY'
import datetime, hashlib, hmac, sys, urllib.request
endpoint, bucket = sys.argv[1:3]
ak, sk, region = "cairntest", "cairntestsecret", "us-east-1"
host = endpoint.split("://", 1)[1]
amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
ph = hashlib.sha256(b"").hexdigest()
creq = "\n".join(["PUT", "/" + bucket, "", "host:" + host, "x-amz-content-sha256:" + ph,
                  "x-amz-date:" + amz, "", "host;x-amz-content-sha256;x-amz-date", ph])
scope = amz[:8] + "/" + region + "/s3/aws4_request"
sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
k = ("AWS4" + sk).encode()
for p in (amz[:8], region, "s3", "aws4_request"):
    k = hmac.new(k, p.encode(), hashlib.sha256).digest()
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
req = urllib.request.Request(endpoint + "/" + bucket, method="PUT", data=b"")
req.add_header("x-amz-date", amz)
req.add_header("x-amz-content-sha256", ph)
req.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders="
               "host;x-amz-content-sha256;x-amz-date, Signature=%s" % (ak, scope, sig))
urllib.request.urlopen(req, timeout=30)
PY
store="minio://127.0.0.1:$rgwport/$bucket/rss"

rows=""
for mb in $sizes; do
	db="s3rss_$mb"
	echo "== $mb MB of random data into $db" >&2
	pg -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	pg -d "$db" -f "$here/tests/fixtures/kestra-postgres.sql" >/dev/null
	pg -d "$db" -f "$here/tests/fixtures/kestra-sample.sql" >/dev/null
	# Kestra's GIN index on the YAML would cost minutes on this much text (bench/README.md)
	pg -d "$db" -c "DROP INDEX flows_source_code" -c "CREATE EXTENSION IF NOT EXISTS pgcrypto"
	# flows of 16 KiB of base64 random bytes (12 KiB of entropy: zstd gains ~25% at most).
	# Not larger: the postgresql plugin FETCHes 1000 rows at a time, so 1 MiB rows
	# would put 1 GB in the reader whatever the storage (seen: RSS 1077 MB)
	n=$((mb * 86))
	pg -d "$db" -c "INSERT INTO flows (key, value, source_code)
		SELECT 'bench_' || g, jsonb_build_object('id', 'bench' || g, 'namespace', 'bench',
			'revision', 1, 'deleted', false, 'tenantId', 'main'),
			encode((SELECT string_agg(gen_random_bytes(1024), ''::bytea)
				FROM generate_series(1, 12 + 0 * g)), 'base64')
		FROM generate_series(1, $n) g"
	data=$(pg -d "$db" -c "SELECT pg_size_pretty(sum(length(source_code))::bigint) FROM flows")
	# control: the same backup to local files
	/usr/bin/time -f '%e %M' -o "$tmp/time" "$cairn" backups create FULL \
		--source "postgresql://postgres@127.0.0.1:$pgport/$db" --storage "file://$tmp/fs" \
		--no-progress >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
	read -r fs_secs fs_kb <"$tmp/time"
	rm -rf "$tmp/fs"
	/usr/bin/time -f '%e %M' -o "$tmp/time" "$cairn" backups create FULL \
		--source "postgresql://postgres@127.0.0.1:$pgport/$db" --storage "$store" \
		-O "parallel=$parallel" -O "part_size=$part_size" --no-progress >"$tmp/out" 2>"$tmp/err" ||
		{ cat "$tmp/err" >&2; exit 1; }
	u=$(sed -n 's/^Backup created: //p' "$tmp/out")
	read -r secs kb <"$tmp/time"
	bytes=$("$cairn" backups list --storage "$store" --output json | python3 -c "
import json, sys
d = json.load(sys.stdin)
items = d if isinstance(d, list) else d.get('backups', [])
print(max(int(x.get('size', 0)) for x in items))")
	"$cairn" backups delete "$u" --storage "$store" >/dev/null
	pg -d postgres -c "DROP DATABASE $db"
	mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
	rows+="| $mb MB | $data | $(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1048576}') | $secs | $(mib "$kb") | $(awk -v b="$bytes" -v s="$secs" 'BEGIN{printf "%.0f", b/1048576/s}') | $fs_secs | $(mib "$fs_kb") |"$'\n'
done

{
	echo "\`bench/s3_rss.sh\` (sizes: $sizes MB; parallel=$parallel, part_size=$part_size; RGW 16 memstore on loopback) · $(date -u +%Y-%m-%d) · $(nproc) cores · $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
	echo
	echo "| source | source_code text | archive MiB | S3 wall s | S3 peak RSS MiB | S3 MiB/s | file:// wall s | file:// peak RSS MiB |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s' "$rows"
} | tee "$out_md"
