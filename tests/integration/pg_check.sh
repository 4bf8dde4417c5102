#!/usr/bin/env bash
# backups check (cron/monitoring) and backups list (header, human sizes, newest first).
. "$(dirname "$0")/lib.sh"
need_pg

src=$(new_db src sample)
S="$WORK/store"

# nothing yet: exit 8 and one line, in both output modes
expect_fail 8 "$CAIRN" backups check --storage "$STORE"
case "$ERR" in *"no backup in the series full"*) ;; *) fail "empty series message: $ERR" ;; esac
set +e; out=$("$CAIRN" backups check --storage "$STORE" --output json 2>/dev/null); rc=$?; set -e
[ "$rc" = 8 ] || fail "json check of an empty series exits $rc"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["exit_code"] == 8 and "no backup" in d["error"]' "$out" ||
	fail "json error document: $out"

# a fresh backup: OK, verifies, and the textfile says so
u=$(create FULL --source "$(uri "$src")")
"$CAIRN" backups check --storage "$STORE" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; fail "check of a fresh backup"; }
grep -q "^OK: the newest backup of full is 0 h 0[0-9] min old: $u\$" "$WORK/out" || fail "check line: $(cat "$WORK/out")"
"$CAIRN" backups check --storage "$STORE" --verify-latest --prometheus "$WORK/cairn.prom" >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "check --verify-latest"; }
grep -q "and verifies" "$WORK/out" || fail "verify not said: $(cat "$WORK/out")"
grep -q '^cairn_backup_check_ok{series="full"} 1$' "$WORK/cairn.prom" || fail "prometheus ok gauge: $(cat "$WORK/cairn.prom")"
grep -q '^cairn_backup_last_success_timestamp_seconds{series="full"} [0-9]\{10\}$' "$WORK/cairn.prom" || fail "prometheus timestamp"
size=$(stat -c %s "$S/${u#"$STORE/"}")
grep -q "^cairn_backup_last_size_bytes{series=\"full\"} $size\$" "$WORK/cairn.prom" || fail "prometheus size"
flows=$(pg "$src" -c "SELECT count(*) FROM flows")
grep -q "^cairn_backup_last_records{series=\"full\",kind=\"FLOW\"} $flows\$" "$WORK/cairn.prom" || fail "prometheus FLOW records"
[ ! -e "$WORK/cairn.prom.tmp.$$" ] && ! ls "$WORK"/cairn.prom.tmp.* >/dev/null 2>&1 || fail "a temporary textfile was left"
"$CAIRN" backups check --storage "$STORE" --verify-latest --output json |
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] and d["verified"] and d["records"]["FLOW"] > 0, d' ||
	fail "json check document"

# too old: a tenant series whose newest backup is from 2020
mkdir -p "$S/backups/tenant/acme"
cp "$S/${u#"$STORE/"}" "$S/backups/tenant/acme/backup-20200101000000.cairn"
expect_fail 8 "$CAIRN" backups check --storage "$STORE" --tenant acme --max-age 1d
case "$ERR" in *"the newest backup of tenant/acme is "*" h "*" min old, over the 24 h 00 min allowed"*) ;; *) fail "stale message: $ERR" ;; esac
"$CAIRN" backups check --storage "$STORE" --tenant acme --max-age 1d --prometheus "$WORK/acme.prom" 2>/dev/null && fail "stale check passed"
grep -q '^cairn_backup_check_ok{series="tenant/acme"} 0$' "$WORK/acme.prom" || fail "stale prometheus gauge"

# the newest backup damaged: the listing looks fine, --verify-latest does not
f="$S/backups/full/backup-20991231235959.cairn"
cp "$S/${u#"$STORE/"}" "$f"
printf '\x00' | dd of="$f" bs=1 seek=200 conv=notrunc status=none
"$CAIRN" backups check --storage "$STORE" >/dev/null 2>&1 || fail "a listing-only check failed on a damaged backup"
expect_fail 4 "$CAIRN" backups check --storage "$STORE" --verify-latest
case "$ERR" in *"does not verify"*) ;; *) fail "damaged newest message: $ERR" ;; esac
rm -f "$f"
expect_fail 2 "$CAIRN" backups check --storage "$STORE" --max-age soon
expect_fail 2 "$CAIRN" backups check --storage "$STORE" --include-data
note "check: empty (8), fresh (0, verified, textfile), stale (8), damaged newest (4), bad options (2)"

# list: a header, human sizes, newest first whatever the listing order
touch -d '2021-01-01 00:00:00 UTC' "$S/backups/tenant/acme/backup-20200101000000.cairn"
"$CAIRN" backups list --storage "$STORE" >"$WORK/list" 2>/dev/null || fail "list"
head -n1 "$WORK/list" | grep -q '^MODIFIED (UTC) .* SIZE  URI$' || fail "list header: $(head -n1 "$WORK/list")"
sed -n 2p "$WORK/list" | grep -q "[0-9.]* KiB  $u\$" || fail "newest first with a human size: $(cat "$WORK/list")"
tail -n1 "$WORK/list" | grep -q '^2021-01-01T00:00:00Z .*backup-20200101000000.cairn$' || fail "oldest last: $(cat "$WORK/list")"
note "list: header, human sizes, newest first"
