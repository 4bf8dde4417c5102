#!/usr/bin/env bash
# Immutable backups: S3 Object Lock retention (object_lock_days / --object-lock-days),
# against a real Ceph RADOS Gateway (tests/peers/rgw.sh, CAIRN_TEST_RGW_PORT):
#   - a bucket without Object Lock: `create --object-lock-days 1` exits 6 with one
#     clear line, and nothing was written (no object, no multipart upload);
#   - in a bucket created with Object Lock: the retention of each backup, read back
#     by independent clients (awscli's get-object-retention, and s3req.py's signed
#     GET ?retention), has the mode asked for (GOVERNANCE by default, COMPLIANCE
#     with --object-lock-mode, both also from -O and from the [minio] section of
#     the configuration) and a retain-until date N days after the backup;
#   - a multipart backup is locked too (RGW drops the retention of a
#     CreateMultipartUpload: the plugin sets it after publishing), and restores;
#   - `backups info` shows the retention; `backups delete` of a locked backup exits
#     6 naming the date, and the object is still there; a legal hold is reported;
#   - `backups delete` of a backup without retention removes its version for good
#     (no version and no delete marker left: a versioned bucket hides nothing);
#   - `prune --keep-last 1` (and --dry-run) keeps the locked ones with a note,
#     deletes the others for good, counts the locked in its summary, exit 0.
. "$(dirname "$0")/lib.sh"
need_pg
need_rgw

AWSCLI=$(command -v aws || true)
if [ -z "$AWSCLI" ]; then
	[ "${CI:-}" = true ] && fail "awscli is not installed (packaging/build-deps.txt lists it)"
	note "no awscli: the retention is read back with s3req.py only"
fi
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""

src=$(new_db src sample)
lockb="cairn-ol-$(date +%s)-$$"
plainb="cairn-nol-$(date +%s)-$$"
mkbucket "$lockb" "x-amz-bucket-object-lock-enabled:true" || fail "unable to create bucket $lockb"
mkbucket "$plainb" || fail "unable to create bucket $plainb"
[ "$(s3req GET "/$lockb" "object-lock=" | head -n1)" = 200 ] || fail "$lockb has no Object Lock"

# backup STORE ARGS… — sets U to the backup's URI, BEFORE/AFTER to the clock around it
backup() {
	local store=$1
	shift
	BEFORE=$(date +%s)
	"$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$store" --no-progress "$@" \
		>"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; fail "create $*"; }
	AFTER=$(date +%s)
	grep -q 'AddressSanitizer\|runtime error' "$WORK/err" && fail "sanitizer report: create $*"
	U=$(sed -n 's/^Backup created: //p' "$WORK/out")
}

# retention KEY → "MODE EPOCH" of the object's retention, from s3req.py's GET ?retention
retention() {
	s3req GET "/$lockb/$1" "retention=" | python3 -c '
import calendar, re, sys, time
if sys.stdin.readline().strip() != "200": sys.exit("GET ?retention failed")
x = sys.stdin.read()
mode = re.search(r"<Mode>(.*?)</Mode>", x).group(1)
d = re.search(r"<RetainUntilDate>(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", x).group(1)
print(mode, calendar.timegm(time.strptime(d, "%Y-%m-%dT%H:%M:%S")))'
}
# aws_retention KEY → the same from awscli, when it is there
aws_retention() {
	"$AWSCLI" --endpoint-url "$ENDPOINT" s3api get-object-retention --bucket "$lockb" --key "$1" |
		python3 -c '
import datetime, json, sys
r = json.load(sys.stdin)["Retention"]
print(r["Mode"], int(datetime.datetime.fromisoformat(r["RetainUntilDate"]).timestamp()))'
}
# check_lock URI MODE DAYS — both clients see MODE, until BEFORE+DAYS … AFTER+DAYS
check_lock() {
	local key=${1#*/"$lockb"/} got
	got=$(retention "$key") || fail "no retention on $key"
	check_lock_seen "$key" "$got" "$2" "$3" "s3req"
	if [ -n "$AWSCLI" ]; then
		got=$(aws_retention "$key") || fail "awscli sees no retention on $key"
		check_lock_seen "$key" "$got" "$2" "$3" "awscli"
	fi
}
check_lock_seen() {
	local key=$1 got=$2 mode=$3 days=$4 who=$5 until
	[ "${got%% *}" = "$mode" ] || fail "$who: $key has retention '$got', wanted mode $mode"
	until=${got#* }
	[ "$until" -ge $((BEFORE + days * 86400)) ] && [ "$until" -le $((AFTER + days * 86400)) ] ||
		fail "$who: $key is locked until $until, wanted $days days after $BEFORE…$AFTER"
}
# versions KEY → "Version" / "DeleteMarker" lines of the key, from ListObjectVersions
versions() {
	s3req GET "/$lockb" "versions=&prefix=$1" | python3 -c '
import re, sys
key = sys.argv[1]
sys.stdin.readline()
for kind, body in re.findall(r"<(Version|DeleteMarker)>(.*?)</\1>", sys.stdin.read(), re.S):
    if re.search(r"<Key>(.*?)</Key>", body).group(1) == key: print(kind)' "$1"
}

# --- a bucket without Object Lock: refused before anything is written -------------
PSTORE="minio://127.0.0.1:$RGW_PORT/$plainb/nolock"
expect_fail 6 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$PSTORE" \
	--object-lock-days 1 --no-progress
case "$ERR" in *"does not have Object Lock enabled"*"nothing was written"*) ;;
*) fail "no clear message for a bucket without Object Lock: $ERR" ;; esac
listing=$(s3req GET "/$plainb" "list-type=2&prefix=nolock/")
grep -q '<Key>' <<<"$listing" && fail "objects written into a bucket without Object Lock: $listing"
grep -q '<Upload>' <<<"$(s3req GET "/$plainb" "uploads=")" && fail "a multipart upload was started"
note "bucket without Object Lock: exit 6 before writing ($ERR)"

# --- the modes, from the command line, -O and the configuration --------------------
STORE="minio://127.0.0.1:$RGW_PORT/$lockb/ol"
backup "$STORE" --object-lock-days 1
g=$U
check_lock "$g" GOVERNANCE 1
backup "$STORE" --object-lock-days 1 --object-lock-mode compliance
c=$U
check_lock "$c" COMPLIANCE 1
backup "$STORE" -O object_lock_days=2 -O object_lock_mode=GOVERNANCE
o=$U
check_lock "$o" GOVERNANCE 2
printf '[minio]\nobject_lock_days = 3\nobject_lock_mode = compliance\n' >"$WORK/cairn.conf"
CAIRN_CONFIG="$WORK/cairn.conf" backup "$STORE"
f=$U
check_lock "$f" COMPLIANCE 3
note "retention seen by s3req${AWSCLI:+ and awscli}: GOVERNANCE (default), COMPLIANCE, -O, [minio] section"

expect_fail 6 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" \
	--object-lock-days 1 --object-lock-mode forever --no-progress
case "$ERR" in *"governance or compliance"*) ;; *) fail "bad mode: $ERR" ;; esac
expect_fail 2 "$CAIRN" backups list --storage "$STORE" --object-lock-days 1

# --- a multipart backup is locked too, and restores ----------------------------------
big=$(new_db big sample)
n=$(pg "$big" -c "SELECT count(*) FROM flows")
per=$((12 * 1024 * 1024 / 32 / n + 1)) # two 5 MiB parts once compressed
pg "$big" -c "UPDATE flows f SET source_code = f.source_code ||
	(SELECT string_agg(md5(random()::text || g || f.key), '') FROM generate_series(1, $per) g)" \
	>/dev/null 2>&1
MSTORE="minio://127.0.0.1:$RGW_PORT/$lockb/mp"
BEFORE=$(date +%s)
m=$("$CAIRN" backups create FULL --source "$(uri "$big")" --storage "$MSTORE" -O part_size=5M \
	--object-lock-days 1 --object-lock-mode compliance --no-progress -v 2>"$WORK/err") ||
	{ cat "$WORK/err"; fail "multipart create with Object Lock"; }
AFTER=$(date +%s)
m=${m#Backup created: }
grep -q 'multipart upload started' "$WORK/err" || fail "the big backup was not a multipart upload"
check_lock "$m" COMPLIANCE 1
dst=$(new_db dst)
"$CAIRN" backups restore "$m" --source "$(uri "$dst")" --storage "$MSTORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore of the locked multipart backup"; }
[ "$(digest "$big")" = "$(digest "$dst")" ] || fail "the locked multipart backup restores different data"
note "multipart backup locked (COMPLIANCE, 1 day) and restored equal"

# --- info and delete -----------------------------------------------------------------
until_g=$(date -u -d "@$(retention "ol/${g#"$STORE"/}" | cut -d' ' -f2)" +%Y-%m-%dT%H:%M:%SZ)
"$CAIRN" backups info "$g" --storage "$STORE" >"$WORK/info" 2>"$WORK/err" || { cat "$WORK/err"; fail "info"; }
grep -q "^retention: *locked until $until_g, GOVERNANCE$" "$WORK/info" ||
	{ cat "$WORK/info"; fail "info does not show the retention (until $until_g)"; }
"$CAIRN" backups info "$g" --storage "$STORE" --output json | grep -q "\"retention\":\"locked until $until_g, GOVERNANCE\"" ||
	fail "info --output json does not show the retention"
for u in "$g" "$c"; do
	expect_fail 6 "$CAIRN" backups delete "$u" --storage "$STORE"
	until_u=$(date -u -d "@$(retention "ol/${u#"$STORE"/}" | cut -d' ' -f2)" +%Y-%m-%dT%H:%M:%SZ)
	case "$ERR" in *"locked until $until_u"*) ;; *) fail "delete of a locked backup does not say until when: $ERR" ;; esac
	[ "$(versions "ol/${u#"$STORE"/}")" = Version ] || fail "the locked backup $u was touched"
done
note "delete of a locked backup: exit 6, $ERR"

# a legal hold (no end date), put on an unlocked backup by another client
backup "$STORE"
h=$U
hkey="ol/${h#"$STORE"/}"
[ "$(s3req PUT "/$lockb/$hkey" "legal-hold=" "<LegalHold><Status>ON</Status></LegalHold>" | head -n1)" = 200 ] ||
	fail "unable to put a legal hold"
expect_fail 6 "$CAIRN" backups delete "$h" --storage "$STORE"
case "$ERR" in *"legal hold"*) ;; *) fail "delete under a legal hold: $ERR" ;; esac
[ "$(s3req PUT "/$lockb/$hkey" "legal-hold=" "<LegalHold><Status>OFF</Status></LegalHold>" | head -n1)" = 200 ] ||
	fail "unable to lift the legal hold"

# an unlocked backup in the same (versioned) bucket goes for good
backup "$STORE"
free=$U
fkey="ol/${free#"$STORE"/}"
"$CAIRN" backups delete "$free" --storage "$STORE" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "delete unlocked"; }
[ -z "$(versions "$fkey")" ] || fail "delete left versions or a delete marker of $fkey: $(versions "$fkey")"
note "legal hold reported; an unlocked backup is deleted with its version, no delete marker"

# --- prune: the locked ones stay with a note, the others go for good -----------------------
PSTORE="minio://127.0.0.1:$RGW_PORT/$lockb/prune"
backup "$PSTORE" --object-lock-days 1
p1=$U
# names order them: a later second, or the same second with a higher -N (core/retention.c)
backup "$PSTORE"
p2=$U
backup "$PSTORE" --object-lock-days 1 --object-lock-mode compliance
p3=$U
backup "$PSTORE"
p4=$U
"$CAIRN" backups prune --keep-last 1 --storage "$PSTORE" --dry-run >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "prune --dry-run"; }
grep -q "^Would keep: $p1 (locked until .*, GOVERNANCE)$" "$WORK/out" || { cat "$WORK/out"; fail "dry run: p1"; }
grep -q "^Would keep: $p3 (locked until .*, COMPLIANCE)$" "$WORK/out" || { cat "$WORK/out"; fail "dry run: p3"; }
grep -q "^Would delete: $p2$" "$WORK/out" || { cat "$WORK/out"; fail "dry run: p2"; }
[ "$(versions "prune/${p2#"$PSTORE"/}")" = Version ] || fail "the dry run deleted something"
"$CAIRN" backups prune --keep-last 1 --storage "$PSTORE" >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "prune with locked backups exits non-zero"; }
grep -q "^Kept: $p1 (locked until .*, GOVERNANCE)$" "$WORK/out" || { cat "$WORK/out"; fail "prune: no note for p1"; }
grep -q "^Kept: $p3 (locked until .*, COMPLIANCE)$" "$WORK/out" || { cat "$WORK/out"; fail "prune: no note for p3"; }
grep -q "^Deleted: $p2$" "$WORK/out" || { cat "$WORK/out"; fail "prune did not delete p2"; }
grep -q "Prune deleted 1 of 4 backups, kept 3 (2 of them locked by the storage)" "$WORK/err" ||
	{ cat "$WORK/err"; fail "prune summary does not count the locked backups"; }
[ -z "$(versions "prune/${p2#"$PSTORE"/}")" ] || fail "prune left a version or a delete marker of p2"
for u in "$p1" "$p3" "$p4"; do
	[ "$(versions "prune/${u#"$PSTORE"/}")" = Version ] || fail "prune touched $u"
done
"$CAIRN" backups prune --keep-last 1 --storage "$PSTORE" --output json >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "prune --output json"; }
python3 - "$WORK/out" "$p1" "$p3" <<'PY' || fail "prune --output json: $(cat "$WORK/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["deleted"] == [], j
assert sorted(x["uri"] for x in j["locked"]) == sorted(sys.argv[2:]), j
assert all(x["why"].startswith("locked until ") for x in j["locked"]), j
PY
note "prune --keep-last 1: kept 2 locked with a note, deleted the unlocked one for good"
note "ok"
