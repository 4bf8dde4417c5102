#!/usr/bin/env bash
# The s3/minio plugins under faults, against a real Ceph RADOS Gateway
# (tests/peers/rgw.sh, CAIRN_TEST_RGW_PORT) seen through cairn-faultproxy
# (tests/tools/faultproxy.c), which answers 5xx/SlowDown or cuts connections
# on a schedule:
#   - a backup of several parts goes up with parts in flight in parallel and
#     restores equal;
#   - a part that fails twice (503, SlowDown) and then succeeds: the backup
#     succeeds;
#   - a part that always fails: `backups create` exits 6, nothing is published
#     under the name and no multipart upload is left (ListMultipartUploads);
#   - a download cut mid-body resumes from the byte reached; restore equal;
#   - retention on S3: prune --keep-last 1 and delete touch only Cairn
#     backups, the newest stays;
#   - virtual-hosted style (s3://, path_style=false, resolve=).
# (Wrong credentials are tested by s3_basic.sh.)
. "$(dirname "$0")/lib.sh"
need_pg

need_rgw
[ -n "${FAULTPROXY:-}" ] && [ -x "$FAULTPROXY" ] || fail "FAULTPROXY (cairn-faultproxy) is not set"

PROXY_PID=""
stop_proxy() {
	if [ -n "$PROXY_PID" ]; then
		kill "$PROXY_PID" 2>/dev/null || true
		wait "$PROXY_PID" 2>/dev/null || true
		PROXY_PID=""
	fi
}
trap 'stop_proxy; rm -rf "$WORK"' EXIT

# start_proxy RULE… — a fresh proxy in front of RGW; sets PPORT, log in $WORK/proxy.log
start_proxy() {
	stop_proxy
	local args=() r
	for r in "$@"; do args+=(--rule "$r"); done
	rm -f "$WORK/proxy.port" "$WORK/proxy.log"
	"$FAULTPROXY" --upstream "127.0.0.1:$RGW_PORT" --port-file "$WORK/proxy.port" \
		--log "$WORK/proxy.log" "${args[@]}" 2>"$WORK/proxy.err" &
	PROXY_PID=$!
	local i=0
	while [ ! -s "$WORK/proxy.port" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$WORK/proxy.err"; fail "the fault proxy did not start"; }
		sleep 0.05
	done
	PPORT=$(cat "$WORK/proxy.port")
}

# keys BUCKET PREFIX — object keys under PREFIX, one a line
keys() {
	s3req GET "/$1" "list-type=2&prefix=$2" | python3 -c '
import re, sys
sys.stdin.readline()
for k in re.findall(r"<Key>(.*?)</Key>", sys.stdin.read()): print(k)'
}
# uploads BUCKET — keys of the multipart uploads in progress
uploads() {
	local out
	out=$(s3req GET "/$1" "uploads=")
	[ "$(head -n1 <<<"$out")" = 200 ] || fail "ListMultipartUploads: $out"
	sed 1d <<<"$out" | python3 -c '
import re, sys
for u in re.findall(r"<Upload>(.*?)</Upload>", sys.stdin.read(), re.S):
    print(re.search(r"<Key>(.*?)</Key>", u).group(1))'
}

bucket="cairn-ft-$(date +%s)-$$"
[ "$(s3req PUT "/$bucket" | head -n1)" = 200 ] || fail "unable to create bucket $bucket"

# a source of ~25 MB once compressed (hex digits, different in every row):
# five 5 MiB parts
big=$(new_db big sample)
n=$(pg "$big" -c "SELECT count(*) FROM flows")
per=$((48 * 1024 * 1024 / 32 / n + 1))
pg "$big" -c "UPDATE flows f SET source_code = f.source_code ||
	(SELECT string_agg(md5(random()::text || g || f.key), '') FROM generate_series(1, $per) g)" >/dev/null
PARTS=(-O part_size=5M -O parallel=4)

# --- parallel parts, restored equal -------------------------------------------
# part 1 held back 3 s, so that the next parts must go up while it is in flight
start_proxy 'PUT partNumber=1& 1 delay=3000'
STORE="minio://127.0.0.1:$PPORT/$bucket/par"
u=$("$CAIRN" backups create FULL --source "$(uri "$big")" --storage "$STORE" "${PARTS[@]}" \
	--no-progress 2>"$WORK/err") || { cat "$WORK/err"; fail "parallel create"; }
u=${u#Backup created: }
nparts=$(grep -c '^PUT .*partNumber=' "$WORK/proxy.log" || true)
[ "$nparts" -ge 4 ] || { cat "$WORK/proxy.log"; fail "only $nparts parts: not a multipart backup of several parts"; }
maxact=$(grep '^PUT .*partNumber=' "$WORK/proxy.log" | sed -n 's/.* active=\([0-9]*\)$/\1/p' | sort -n | tail -n1)
[ "${maxact:-0}" -ge 2 ] || { cat "$WORK/proxy.log"; fail "parts never overlapped (max $maxact in flight)"; }
[ "$maxact" -le 4 ] || { cat "$WORK/proxy.log"; fail "$maxact parts in flight with parallel=4"; }
dst=$(new_db dst)
"$CAIRN" backups restore "$u" --source "$(uri "$dst")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore of the parallel backup"; }
[ "$(digest "$big")" = "$(digest "$dst")" ] || fail "the parallel backup restores different data"
grep -q 'AddressSanitizer\|runtime error' "$WORK/err" && fail "sanitizer report"
note "parallel: $nparts parts, up to $maxact in flight; restore equal"

# --- a part failing twice, then succeeding --------------------------------------
start_proxy 'PUT partNumber=2& 1 503' 'PUT partNumber=2& 2 slowdown'
STORE="minio://127.0.0.1:$PPORT/$bucket/retry"
u=$("$CAIRN" backups create FULL --source "$(uri "$big")" --storage "$STORE" "${PARTS[@]}" \
	--no-progress 2>"$WORK/err") || { cat "$WORK/err"; fail "create with a part failing twice"; }
u=${u#Backup created: }
tries=$(grep -c '^PUT .*partNumber=2&' "$WORK/proxy.log" || true)
[ "$tries" = 3 ] || { cat "$WORK/proxy.log"; fail "part 2 was sent $tries times, not 3"; }
grep -q 'retrying' "$WORK/err" || { cat "$WORK/err"; fail "no retry warning"; }
"$CAIRN" backups verify "$u" --storage "$STORE" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "verify after retries"; }
note "part 2 failed twice (503, SlowDown), backup succeeded"

# --- a part that never succeeds: nothing published, nothing left behind ---------
start_proxy 'PUT partNumber=3& * 500'
STORE="minio://127.0.0.1:$PPORT/$bucket/broken"
expect_fail 6 "$CAIRN" backups create FULL --source "$(uri "$big")" --storage "$STORE" "${PARTS[@]}" \
	--no-progress
tries=$(grep -c '^PUT .*partNumber=3&' "$WORK/proxy.log" || true)
[ "$tries" = 4 ] || { cat "$WORK/proxy.log"; fail "part 3 was sent $tries times, not 4"; }
[ -z "$(keys "$bucket" broken/)" ] || fail "objects published under broken/: $(keys "$bucket" broken/)"
left=$(uploads "$bucket" | grep '^broken/' || true)
[ -z "$left" ] || fail "multipart uploads left behind: $left"
grep -q '^DELETE .*uploadId=' "$WORK/proxy.log" || fail "no AbortMultipartUpload sent"
note "part 3 always failing: exit 6 ($ERR); no object, no upload left"

# --- a download cut mid-body resumes ---------------------------------------------
start_proxy 'GET backup-[0-9]+\.cairn$ 1 cut=1000000' 'GET backup-[0-9]+\.cairn$ 3 cut=3000000'
STORE="minio://127.0.0.1:$PPORT/$bucket/retry"
u="$STORE/${u#*/retry/}" # the backup of the retry test, through this proxy
dst2=$(new_db dst2)
"$CAIRN" backups restore "$u" --source "$(uri "$dst2")" --storage "$STORE" \
	>/dev/null 2>"$WORK/err" || { cat "$WORK/err"; cat "$WORK/proxy.log"; fail "restore through cut connections"; }
grep -q 'cut done' "$WORK/proxy.log" || { cat "$WORK/proxy.log"; fail "no connection was cut"; }
grep -q 'resuming at byte' "$WORK/err" || { cat "$WORK/err"; fail "no resume reported"; }
[ "$(digest "$big")" = "$(digest "$dst2")" ] || fail "restore after cut downloads differs"
grep -q 'AddressSanitizer\|runtime error' "$WORK/err" && fail "sanitizer report"
note "downloads cut twice mid-body resumed; restore equal"
stop_proxy

# --- retention on S3 ----------------------------------------------------------------
src=$(new_db src sample)
RSTORE="minio://127.0.0.1:$RGW_PORT/$bucket/ret"
r1=$("$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$RSTORE" --no-progress 2>"$WORK/err") ||
	{ cat "$WORK/err"; fail "retention: create 1"; }
# one second apart: two backups of the same second are named T and T-1, and prune's
# tie-break (core/retention.c) takes T for the newer one; not what is tested here
sleep 1
r2=$("$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$RSTORE" --no-progress 2>"$WORK/err") ||
	{ cat "$WORK/err"; fail "retention: create 2"; }
sleep 1
r3=$("$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$RSTORE" --no-progress 2>"$WORK/err") ||
	{ cat "$WORK/err"; fail "retention: create 3"; }
r1=${r1#Backup created: } r2=${r2#Backup created: } r3=${r3#Backup created: }
s3req PUT "/$bucket/ret/backups/full/README.txt" "" "notes" | head -n1 | grep -q 200 || fail "put README"
s3req PUT "/$bucket/ret/backups/full/backup-20200101000000.cairn" "" "not a backup" | head -n1 | grep -q 200 ||
	fail "put fake backup"
"$CAIRN" backups prune --keep-last 1 --storage "$RSTORE" >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "prune on S3"; }
left=$(keys "$bucket" ret/ | sort)
want=$(printf '%s\n' "ret/backups/full/README.txt" "ret/backups/full/backup-20200101000000.cairn" \
	"ret/${r3#"$RSTORE"/}" | sort)
[ "$left" = "$want" ] || fail "after prune --keep-last 1: $left (wanted $want)"
expect_fail 2 "$CAIRN" backups delete "$RSTORE/backups/full/README.txt" --storage "$RSTORE"
"$CAIRN" backups delete "$r3" --storage "$RSTORE" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "delete on S3"; }
left=$(keys "$bucket" ret/ | sort)
want=$(printf '%s\n' "ret/backups/full/README.txt" "ret/backups/full/backup-20200101000000.cairn" | sort)
[ "$left" = "$want" ] || fail "after delete: $left"
expect_fail 6 "$CAIRN" backups delete "$r3" --storage "$RSTORE"
note "retention on S3: prune kept the newest and the non-backups; delete works"

# --- virtual-hosted style -------------------------------------------------------------
# <bucket>.localhost need not resolve here: resolve= points it at the proxy, whose log
# shows the paths RGW got (no bucket in them: the bucket is in the Host header)
start_proxy
VSTORE="s3://$bucket/vhost"
VOPTS=(-O endpoint="http://localhost:$PPORT" -O path_style=false
	-O resolve="$bucket.localhost:$PPORT:127.0.0.1")
u=$("$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$VSTORE" "${VOPTS[@]}" \
	--no-progress 2>"$WORK/err") || { cat "$WORK/err"; fail "create, virtual-hosted style"; }
u=${u#Backup created: }
"$CAIRN" backups verify "$u" --storage "$VSTORE" "${VOPTS[@]}" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "verify, virtual-hosted style"; }
grep -q '^PUT /vhost/backups/full/backup-' "$WORK/proxy.log" || { cat "$WORK/proxy.log"; fail "no virtual-hosted PUT"; }
grep -q " /$bucket" "$WORK/proxy.log" && { cat "$WORK/proxy.log"; fail "a path-style request in virtual-hosted mode"; }
[ -n "$(keys "$bucket" vhost/backups/full/)" ] || fail "no object under vhost/ in the bucket"
stop_proxy
note "virtual-hosted style (http://$bucket.localhost via resolve=) works"
note "ok"
