#!/usr/bin/env bash
# Storage failures: a full disk and an unwritable directory leave no backup
# behind (not even a partial one) and say so with exit code 6.
. "$(dirname "$0")/lib.sh"
need_pg

src=$(new_db src sample)
# a large flow so the backup needs more than the tiny filesystem holds
pg "$src" -c "INSERT INTO flows (key, value, source_code) SELECT 'main_big.ns_b' || g || '_1', jsonb_build_object('id','b'||g,'namespace','big.ns','revision',1,'tenantId','main','deleted',false), (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 1000) i) FROM generate_series(1, 40) g"

if [ "$(id -u)" = 0 ] && mkdir -p "$WORK/full" && mount -t tmpfs -o size=64k tmpfs "$WORK/full" 2>/dev/null; then
	trap 'umount "$WORK/full" 2>/dev/null; rm -rf "$WORK"' EXIT
	expect_fail 6 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "file://$WORK/full" --no-progress
	case "$ERR" in *"No space left"*|*"no space"*) ;; *) fail "full-disk message: $ERR" ;; esac
	left=$(find "$WORK/full" -type f | wc -l)
	[ "$left" = 0 ] || { find "$WORK/full" -type f; fail "a full disk left $left file(s) behind"; }
	note "full disk: refused cleanly, nothing left"
else
	echo "SKIPPED part [$TEST]: full-disk check needs root to mount a tmpfs" >&2
	[ "${CI:-}" = true ] && fail "full-disk check must run in CI"
fi

if [ "$(id -u)" != 0 ]; then
	mkdir -p "$WORK/ro" && chmod 500 "$WORK/ro"
	expect_fail 6 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "file://$WORK/ro"
fi
# a storage that is not a directory
touch "$WORK/afile"
expect_fail 6 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "file://$WORK/afile"
note "ok"
