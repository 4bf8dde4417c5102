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
size=$(stat -c %s "$P")

restore_fails() { # CODE FILE [extra args]
	local code=$1 file=$2; shift 2
	expect_fail "$code" "$CAIRN" backups restore "file://$file" --source "$(uri "$dst")" "$@"
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

# a flipped byte in an unencrypted archive, at several places
for off in 3 9 20 $((size / 3)) $((size / 2)) $((size - 20)) $((size - 1)); do
	cp "$P" "$WORK/flip.cairn"
	python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^0x10]))" "$WORK/flip.cairn" "$off"
	restore_fails 4 "$WORK/flip.cairn"
done
note "flipped bytes: refused"

# truncated at several points, encrypted and not
for src_file in "$P" "$E"; do
	s=$(stat -c %s "$src_file")
	for cut in 0 7 16 40 $((s / 2)) $((s - 17)) $((s - 1)); do
		head -c "$cut" "$src_file" >"$WORK/cut.cairn"
		restore_fails 4 "$WORK/cut.cairn"
	done
done
note "truncations: refused"

# bad magic; unknown envelope version; oversize message length
cp "$P" "$WORK/magic.cairn"; printf 'XXXXX' | dd of="$WORK/magic.cairn" conv=notrunc status=none
restore_fails 4 "$WORK/magic.cairn"
case "$ERR" in *magic*|*"not a Cairn"*|*"not a cairn"*) ;; *) fail "bad magic message: $ERR" ;; esac
cp "$P" "$WORK/version.cairn"; printf '\x09\x00' | dd of="$WORK/version.cairn" bs=1 seek=8 conv=notrunc status=none
restore_fails 4 "$WORK/version.cairn"
case "$ERR" in *version*) ;; *) fail "unknown version message: $ERR" ;; esac
H=$(python3 -c "import struct,sys; print(struct.unpack('<I', open(sys.argv[1],'rb').read()[12:16])[0])" "$P")
cp "$P" "$WORK/oversize.cairn"
printf '\xff\xff\xff\x7f' | dd of="$WORK/oversize.cairn" bs=1 seek=$((16 + H)) conv=notrunc status=none
restore_fails 4 "$WORK/oversize.cairn"
case "$ERR" in *oversize*) ;; *) fail "oversize message: $ERR" ;; esac

# authenticated but hostile content: ../ path, unknown inner format, no summary, stray entry
"$CRAFT" "$P" "$WORK/dotdot.cairn" add "../../etc/evil"
restore_fails 4 "$WORK/dotdot.cairn"
case "$ERR" in *"../../etc/evil"*) ;; *) fail "path traversal message: $ERR" ;; esac
[ ! -e "$WORK/../etc/evil" ] || fail "an entry was written to disk"
"$CRAFT" "$P" "$WORK/format.cairn" format 7
restore_fails 4 "$WORK/format.cairn"
case "$ERR" in *"format 7"*) ;; *) fail "inner format message: $ERR" ;; esac
"$CRAFT" "$P" "$WORK/nosummary.cairn" drop summary.msgpack
restore_fails 4 "$WORK/nosummary.cairn"
"$CRAFT" "$P" "$WORK/lost.cairn" drop records/FLOW/000001.msgpack
restore_fails 4 "$WORK/lost.cairn"
case "$ERR" in *"summary says"*) ;; *) fail "missing chunk message: $ERR" ;; esac
"$CRAFT" "$P" "$WORK/ok.cairn" add "records/FLOW/000009.msgpack"   # empty chunk: harmless
"$CAIRN" backups verify "file://$WORK/ok.cairn" >/dev/null 2>&1 || fail "an empty chunk is refused"

# verify and info refuse the same damage; nothing else is needed to detect it
expect_fail 4 "$CAIRN" backups verify "file://$WORK/flip.cairn"
expect_fail 6 "$CAIRN" backups verify "file://$WORK/does-not-exist.cairn"

# an unreachable source: clean error, exit 5
expect_fail 5 "$CAIRN" backups create FULL --source "postgresql://postgres@127.0.0.1:1/none" --storage "$STORE"
note "ok"
