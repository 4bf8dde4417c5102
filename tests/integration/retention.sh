#!/usr/bin/env bash
# backups delete and prune: only Cairn backups are touched, the newest of
# each series always stays, --dry-run deletes nothing.
. "$(dirname "$0")/lib.sh"

export CAIRN_STORAGE="file://$WORK/store"
d="$WORK/store/backups"
mkdir -p "$d/full" "$d/tenant/acme" "$d/other"
# real archives (an unencrypted, empty-ish backup made by craft from nothing is
# not possible without a source, so copy a valid header: the magic is what
# prune checks before deleting)
mk() { printf 'CAIRN\0\r\n' >"$1"; head -c 100 /dev/urandom >>"$1"; }
for ts in 20240101000000 20240102000000 20240103000000 20240104000000; do mk "$d/full/backup-$ts.cairn"; done
mk "$d/full/backup-20240104000000-1.cairn"
for ts in 20240101000000 20240105000000; do mk "$d/tenant/acme/backup-$ts.cairn"; done
echo "not a backup" >"$d/full/backup-20230101000000.cairn"    # right name, wrong content
echo "notes" >"$d/full/README.txt"                            # not a backup name
mk "$d/other/backup-20200101000000.cairn"                      # not a series Cairn writes

"$CAIRN" backups prune --keep-last 2 --dry-run >"$WORK/dry" 2>"$WORK/err" || { cat "$WORK/err"; fail "dry run"; }
[ "$(find "$d" -type f | wc -l)" = 10 ] || fail "--dry-run deleted something"
grep -q 'Would delete: cairn:///backups/full/backup-20240101000000.cairn' "$WORK/dry" || fail "dry run list: $(cat "$WORK/dry")"

"$CAIRN" backups prune --keep-last 2 --output json >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; fail "prune"; }
python3 - "$WORK/out" <<'PY' || fail "prune json: $(cat "$WORK/out")"
import json, sys
r = json.load(open(sys.argv[1]))
gone = sorted(u.rsplit('/', 1)[1] for u in r["deleted"])
assert gone == ["backup-20240101000000.cairn", "backup-20240102000000.cairn",
                "backup-20240103000000.cairn"], gone  # the two newest are of the same second
PY
for f in full/backup-20240104000000.cairn full/backup-20240104000000-1.cairn \
	tenant/acme/backup-20240101000000.cairn tenant/acme/backup-20240105000000.cairn \
	full/README.txt other/backup-20200101000000.cairn; do
	[ -e "$d/$f" ] || fail "prune deleted $f"
done
# the fake one with a backup name but no magic is left alone, with a warning
[ -e "$d/full/backup-20230101000000.cairn" ] || fail "prune deleted a file that is not a Cairn archive"
grep -q 'does not look like a Cairn backup' "$WORK/err" || fail "no warning for the impostor"

# within one second, backup-T-1 is newer than backup-T: keep-last 1 keeps -1
"$CAIRN" backups prune --keep-last 1 --dry-run >"$WORK/dry1" 2>/dev/null || fail "dry run keep-last 1"
grep -q 'Would delete: cairn:///backups/full/backup-20240104000000.cairn' "$WORK/dry1" ||
	fail "keep-last 1 would not delete backup-T (older than backup-T-1): $(cat "$WORK/dry1")"
grep -q 'backup-20240104000000-1.cairn' "$WORK/dry1" && fail "keep-last 1 would delete the newest, backup-T-1"

# --keep-within keeps young ones; the newest of a series always stays
"$CAIRN" backups prune --keep-within 1d >/dev/null 2>&1 || fail "prune --keep-within"
[ -e "$d/full/backup-20240104000000-1.cairn" ] || fail "the newest full backup was deleted"
[ -e "$d/tenant/acme/backup-20240105000000.cairn" ] || fail "the newest tenant backup was deleted"
[ ! -e "$d/tenant/acme/backup-20240101000000.cairn" ] || fail "an old tenant backup survived"

# delete: one backup; refuses what is not a Cairn backup
"$CAIRN" backups delete cairn:///backups/full/backup-20240104000000-1.cairn >/dev/null 2>&1 || fail "delete"
[ ! -e "$d/full/backup-20240104000000-1.cairn" ] || fail "delete left the file"
expect_fail 2 "$CAIRN" backups delete cairn:///backups/full/README.txt
expect_fail 6 "$CAIRN" backups delete cairn:///backups/full/backup-19990101000000.cairn
expect_fail 2 "$CAIRN" backups prune
expect_fail 2 "$CAIRN" backups prune --keep-last 0
expect_fail 2 "$CAIRN" backups prune --keep-within 3parsecs
note "ok"
