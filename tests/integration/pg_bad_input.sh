#!/usr/bin/env bash
# Damaged and hostile archives: one clear error, the right exit code, and
# not a single row written to the target.
. "$(dirname "$0")/lib.sh"
need_pg

src=$(new_db src sample)
dst=$(new_db dst)
plain=$(create FULL --source "$(uri "$src")" --no-encryption)
enc=$(create FULL --source "$(uri "$src")")
P=${plain#file://}
E=${enc#file://}

restore_fails() { # CODE FILE [extra args]
	local code=$1 file=$2; shift 2
	expect_fail "$code" "$CAIRN" backups restore "file://$file" --source "$(uri "$dst")" --allow-unencrypted "$@"
	[ "$(total_rows "$dst")" = 0 ] || fail "rows were written after: $ERR"
}

# wrong instance key, wrong passphrase
restore_fails 3 "$E" --identity /dev/null 2>/dev/null || true
expect_fail 3 env CAIRN_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" \
	"$CAIRN" backups restore "$enc" --source "$(uri "$dst")"
[ "$(total_rows "$dst")" = 0 ] || fail "rows written with a wrong key"
pu=$(create FULL --source "$(uri "$src")" --encryption-key 'right')
expect_fail 3 "$CAIRN" backups restore "$pu" --encryption-key 'wrong' --source "$(uri "$dst")"
[ "$(total_rows "$dst")" = 0 ] || fail "rows written with a wrong passphrase"

refuse_damaged "$P" "$E"
note "flipped, truncated, bad magic/version/length, ../ entry, inner format, missing summary or chunk: refused"
"$CRAFT" "$P" "$WORK/ok.cairn" add "records/FLOW/000009.msgpack"   # empty chunk: harmless
"$CAIRN" backups verify "file://$WORK/ok.cairn" >/dev/null 2>&1 || fail "an empty chunk is refused"

# verify and info refuse the same damage; nothing else is needed to detect it
expect_fail 4 "$CAIRN" backups verify "file://$WORK/flip.cairn" --allow-unencrypted
expect_fail 6 "$CAIRN" backups verify "file://$WORK/does-not-exist.cairn"

# an unreachable source: clean error, exit 5
expect_fail 5 "$CAIRN" backups create FULL --source "postgresql://postgres@127.0.0.1:1/none" --storage "$STORE"
note "ok"
