#!/usr/bin/env bash
# Internal storage on S3 (the RADOS Gateway of tests/peers/rgw.sh): a full
# backup's files restored into a bucket through the minio plugin land as
# objects (listed by an independent signed client), a backup taken from that
# bucket holds the same files, and restored into a fresh directory every
# file is byte-equal to the original local storage.
. "$(dirname "$0")/lib.sh"
need_pg
RGW_PORT=${CAIRN_TEST_RGW_PORT:-}
if [ -z "$RGW_PORT" ] || ! python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$RGW_PORT/', timeout=3)" 2>/dev/null; then
	[ "${CI:-}" = true ] && fail "no RADOS Gateway on 127.0.0.1:${RGW_PORT:-?} (tests/run-all.sh starts one)"
	echo "SKIPPED [$TEST]: no S3 test server" >&2
	exit 77
fi
export AWS_ACCESS_KEY_ID=cairntest AWS_SECRET_ACCESS_KEY=cairntestsecret
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 || true
export AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
ENDPOINT="http://127.0.0.1:$RGW_PORT"
s3() { python3 "$(dirname "$0")/s3req.py" "$ENDPOINT" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$@"; }
bucket="cairn-files-$(date +%s)-$$"
st=$(s3 PUT "/$bucket" | head -n1)
[ "$st" = 200 ] || fail "unable to create bucket $bucket ($st)"
IS3="minio://127.0.0.1:$RGW_PORT/$bucket/kestra"

src=$(new_db src sample)
IS="$WORK/kestra-storage"
sample_files "$IS"
u=$(create FULL --source "$(uri "$src")" --include-data --internal-storage "file://$IS")

# restore into the bucket: every file an object under the prefix
mid=$(new_db mid)
"$CAIRN" backups restore "$u" --source "$(uri "$mid")" --storage "$STORE" --internal-storage "$IS3" \
	>/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "restore into an S3 internal storage"; }
s3 GET "/$bucket" "list-type=2&prefix=kestra/" >"$WORK/list"
want=$(cd "$IS" && find . -type f ! -path '*/states/*' | wc -l)
got=$(grep -o '<Key>[^<]*</Key>' "$WORK/list" | wc -l)
[ "$got" = "$want" ] || { cat "$WORK/list"; fail "$got objects in the bucket, want $want"; }
grep -q '<Key>kestra/main/company/team/_kv/api_token.ion.metadata</Key>' "$WORK/list" || fail "sidecar object missing"

# back up from the bucket, restore into a fresh directory: byte-equal
v=$(create FULL --source "$(uri "$mid")" --include-data --internal-storage "$IS3")
out="$WORK/restored"
mkdir -p "$out"
dst=$(new_db dst)
"$CAIRN" backups restore "$v" --source "$(uri "$dst")" --storage "$STORE" --internal-storage "file://$out" \
	>/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "restore of the S3 backup"; }
[ "$(tree_digest "$IS" '/states/')" = "$(tree_digest "$out")" ] || { tree_digest "$IS"; tree_digest "$out"; fail "files differ after file → S3 → file"; }
[ "$(data_digest "$src")" = "$(data_digest "$dst")" ] || fail "execution data differs"
[ "$(digest "$src")" = "$(digest "$dst")" ] || fail "metadata differs"
note "internal storage on S3: restored into a bucket, backed up from it, every file and row equal"
