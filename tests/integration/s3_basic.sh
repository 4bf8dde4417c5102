#!/usr/bin/env bash
# The s3/minio storage plugins against a real Ceph RADOS Gateway
# (tests/peers/rgw.sh, port in CAIRN_TEST_RGW_PORT): backups created, listed,
# inspected, verified and restored through minio:// and s3://; a multipart
# backup; wrong credentials and a missing bucket fail with exit 6 and a
# clear message; the storage conformance kit (spaces, unicode and '+' in
# names among its tests) when it is built.
#
#   s3_basic.sh        everything (needs PostgreSQL and RGW)
#   s3_basic.sh kit    the conformance kit only (needs RGW)
. "$(dirname "$0")/lib.sh"
MODE=${1:-all}
[ "$MODE" = kit ] && TEST=s3_conformance
[ "$MODE" = kit ] || need_pg

need_rgw

bucket="cairn-it-$(date +%s)-$$"
mkbucket "$bucket" || fail "unable to create bucket $bucket"
STORE="minio://127.0.0.1:$RGW_PORT/$bucket/some prefix/ü+x"

run_kit() {
	[ -n "${CAIRN_PLUGIN_CHECK:-}" ] && [ -x "$CAIRN_PLUGIN_CHECK" ] || {
		note "no cairn-plugin-check: conformance kit not run"
		return 0
	}
	"$CAIRN_PLUGIN_CHECK" storage "$CAIRN_PLUGIN_PATH/cairn-storage-minio.so" \
		"minio://127.0.0.1:$RGW_PORT/$bucket/kit" >"$WORK/kit" 2>&1 || { cat "$WORK/kit"; fail "conformance kit (minio)"; }
	AWS_ENDPOINT_URL="$ENDPOINT" "$CAIRN_PLUGIN_CHECK" storage "$CAIRN_PLUGIN_PATH/cairn-storage-s3.so" \
		"s3://$bucket/kit-s3" >"$WORK/kit" 2>&1 || { cat "$WORK/kit"; fail "conformance kit (s3)"; }
	note "conformance kit passed for minio and s3 ($(tail -n1 "$WORK/kit"))"
}
if [ "$MODE" = kit ]; then
	run_kit
	exit 0
fi

src=$(new_db src sample)
dst=$(new_db dst)

# --- create, list, info, verify, restore through minio:// -------------------
u=$(create FULL --source "$(uri "$src")")
case "$u" in "$STORE"/backups/full/backup-*.cairn) ;; *) fail "unexpected backup URI '$u'" ;; esac
"$CAIRN" backups list --storage "$STORE" >"$WORK/list" 2>"$WORK/err" || { cat "$WORK/err"; fail "list"; }
grep -q "backup-" "$WORK/list" || { cat "$WORK/list"; fail "list does not show the backup"; }
"$CAIRN" backups info "$u" --storage "$STORE" >"$WORK/info" 2>"$WORK/err" || { cat "$WORK/err"; fail "info"; }
grep -qi "FULL" "$WORK/info" || { cat "$WORK/info"; fail "info does not say FULL"; }
"$CAIRN" backups verify "$u" --storage "$STORE" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "verify"; }
"$CAIRN" backups restore "$u" --source "$(uri "$dst")" --storage "$STORE" >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore"; }
[ "$(digest "$src")" = "$(digest "$dst")" ] || fail "restore from minio:// differs from the source"
grep -q 'AddressSanitizer\|runtime error' "$WORK/err" && fail "sanitizer report"
note "minio:// FULL round trip equal"

# --- cairn:/// resolves to the configured default storage: here MinIO ----------
printf '[storage]\nuri = minio://127.0.0.1:%s/%s/default\n' "$RGW_PORT" "$bucket" >"$WORK/s3.conf"
out=$(CAIRN_CONFIG="$WORK/s3.conf" "$CAIRN" backups create FULL --source "$(uri "$src")" --no-progress 2>"$WORK/err") ||
	{ cat "$WORK/err"; fail "create into the configured default storage"; }
cu=${out#Backup created: }
case "$cu" in cairn:///backups/full/backup-*.cairn) ;; *) fail "default-storage backup URI '$cu'" ;; esac
CAIRN_CONFIG="$WORK/s3.conf" "$CAIRN" backups list | grep -qF "$cu" || fail "cairn:/// list on MinIO"
CAIRN_CONFIG="$WORK/s3.conf" "$CAIRN" backups verify "$cu" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "verify $cu on MinIO"; }
note "cairn:/// resolves to the configured MinIO storage"

# --- the same through s3:// with an endpoint option ---------------------------
S3STORE="s3://$bucket/via-s3"
u=$("$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$S3STORE" \
	-O endpoint="$ENDPOINT" --no-progress 2>"$WORK/err") || { cat "$WORK/err"; fail "create via s3://"; }
u=${u#Backup created: }
"$CAIRN" backups verify "$u" --storage "$S3STORE" -O endpoint="$ENDPOINT" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "verify via s3://"; }
note "s3:// with endpoint= works"

# --- multipart: a backup larger than two 5 MiB parts ---------------------------
big=$(new_db big sample)
# ~32 MB of hex digits (half their size once compressed), different in every row
n=$(pg "$big" -c "SELECT count(*) FROM flows")
per=$((32 * 1024 * 1024 / 32 / n + 1))
pg "$big" -c "UPDATE flows f SET source_code = f.source_code ||
	(SELECT string_agg(md5(random()::text || g || f.key), '') FROM generate_series(1, $per) g)" >/dev/null
u=$("$CAIRN" backups create FULL --source "$(uri "$big")" --storage "$STORE" -O part_size=5242880 \
	--no-progress 2>"$WORK/err") || { cat "$WORK/err"; fail "multipart create"; }
u=${u#Backup created: }
bytes=$("$CAIRN" backups list --storage "$STORE" --output json 2>/dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin)
items = d if isinstance(d, list) else d.get('backups', [])
print(max(int(x.get('size', 0)) for x in items))" 2>/dev/null || echo 0)
note "largest backup: $bytes bytes"
big_dst=$(new_db big_dst)
"$CAIRN" backups restore "$u" --source "$(uri "$big_dst")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "multipart restore"; }
[ "$(digest "$big")" = "$(digest "$big_dst")" ] || fail "multipart restore differs"
[ "$bytes" -gt $((10 * 1024 * 1024)) ] || fail "the multipart backup is only $bytes bytes: not multipart"
note "multipart backup ($bytes bytes, 5 MiB parts) round trip equal"

# --- list paginates: more than one ListObjectsV2 page (1000 keys) -------------
python3 - "$(dirname "$0")" "$ENDPOINT" "$bucket" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" <<'PY' || fail "unable to upload the many objects"
import sys
sys.path.insert(0, sys.argv[1])
from s3req import request
endpoint, bucket, ak, sk = sys.argv[2:6]
for i in range(1205):
    st, _ = request(endpoint, ak, sk, "PUT", "/%s/many/backups/full/backup-20200101%06d.cairn" % (bucket, i), "", b"x")
    if st != 200:
        sys.exit("PUT %d: %d" % (i, st))
PY
n=$("$CAIRN" backups list --storage "minio://127.0.0.1:$RGW_PORT/$bucket/many" --output json 2>"$WORK/err" |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') || { cat "$WORK/err"; fail "list of many"; }
[ "$n" = 1205 ] || fail "list returned $n of 1205 objects: pagination"
note "list paginates: 1205 objects"

# --- failures -----------------------------------------------------------------
expect_fail 6 env AWS_SECRET_ACCESS_KEY=wrong-secret "$CAIRN" backups create FULL \
	--source "$(uri "$src")" --storage "$STORE" --no-progress
echo "$ERR" | grep -qi "authentication" || fail "wrong secret: no authentication message: $ERR"
echo "$ERR" | grep -q "wrong-secret" && fail "the secret key leaked into the message: $ERR"
note "wrong secret: exit 6, $ERR"

expect_fail 6 "$CAIRN" backups create FULL --source "$(uri "$src")" \
	--storage "minio://127.0.0.1:$RGW_PORT/no-such-bucket-$$/x" --no-progress
echo "$ERR" | grep -q "does not exist" || fail "missing bucket: $ERR"
note "missing bucket: exit 6, $ERR"

run_kit
note "ok"
