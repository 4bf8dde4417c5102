#!/usr/bin/env bash
# Damaged and hostile archives restored into MariaDB: one clear error, the
# right exit code, and not a single row written to the target (the cases of
# pg_bad_input.sh, with a MariaDB target).
. "$(dirname "$0")/lib.sh"
need_my
# See my_roundtrip.sh: GCC 12's LeakSanitizer and the TLS of an unused libpq.
case ",${ASAN_OPTIONS:-}," in *intercept_tls_get_addr*) ;; *)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}intercept_tls_get_addr=0" ;; esac

src=$(new_my_db src sample)
dst=$(new_my_db dst)
plain=$(create FULL --source "$(myuri "$src")" --no-encryption)
enc=$(create FULL --source "$(myuri "$src")")
P=${plain#file://}
E=${enc#file://}
size=$(stat -c %s "$P")

# the intact archives restore (so that every refusal below is the damage's doing)
ok=$(new_my_db ok)
"$CAIRN" backups restore "$plain" --source "$(myuri "$ok")" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err" >&2; fail "the intact unencrypted archive does not restore"; }
[ "$(my_digest "$src")" = "$(my_digest "$ok")" ] || fail "the intact archive restores different rows"

restore_fails() { # CODE FILE [extra args]
	local code=$1 file=$2; shift 2
	expect_fail "$code" "$CAIRN" backups restore "file://$file" --source "$(myuri "$dst")" "$@"
	[ "$(my_total_rows "$dst")" = 0 ] || fail "rows were written after: $ERR"
}

# wrong instance key, wrong recovery identity, wrong passphrase
expect_fail 3 env CAIRN_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" \
	"$CAIRN" backups restore "$enc" --source "$(myuri "$dst")"
[ "$(my_total_rows "$dst")" = 0 ] || fail "rows written with a wrong instance key"
"$CAIRN" keys generate "$WORK/other" >/dev/null 2>&1 || fail "keys generate failed"
expect_fail 3 env -u CAIRN_ENCRYPTION_KEY \
	"$CAIRN" backups restore "$enc" --identity "$WORK/other.key" --source "$(myuri "$dst")"
[ "$(my_total_rows "$dst")" = 0 ] || fail "rows written with a wrong identity"
pu=$(create FULL --source "$(myuri "$src")" --encryption-key 'right')
expect_fail 3 "$CAIRN" backups restore "$pu" --encryption-key 'wrong' --source "$(myuri "$dst")"
[ "$(my_total_rows "$dst")" = 0 ] || fail "rows written with a wrong passphrase"
note "wrong keys: refused (exit 3), nothing written"

# a flipped byte in an unencrypted archive, at several places
for off in 3 9 20 $((size / 3)) $((size / 2)) $((size - 20)) $((size - 1)); do
	cp "$P" "$WORK/flip.cairn"
	python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^0x10]))" "$WORK/flip.cairn" "$off"
	restore_fails 4 "$WORK/flip.cairn"
done
note "flipped bytes: refused (exit 4), nothing written"

# truncated at several points, encrypted and not
for src_file in "$P" "$E"; do
	s=$(stat -c %s "$src_file")
	for cut in 0 7 16 40 $((s / 2)) $((s - 17)) $((s - 1)); do
		head -c "$cut" "$src_file" >"$WORK/cut.cairn"
		restore_fails 4 "$WORK/cut.cairn"
	done
done
note "truncations: refused (exit 4), nothing written"

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
note "bad magic, unknown version, oversize length: refused (exit 4), nothing written"

# authenticated but hostile content: ../ path, unknown inner format, no summary, lost chunk
"$CRAFT" "$P" "$WORK/dotdot.cairn" add "../../etc/evil"
restore_fails 4 "$WORK/dotdot.cairn"
case "$ERR" in *"../../etc/evil"*) ;; *) fail "path traversal message: $ERR" ;; esac
[ ! -e "$WORK/../etc/evil" ] || fail "an entry was written to disk"
"$CRAFT" "$P" "$WORK/format.cairn" format 7
restore_fails 4 "$WORK/format.cairn"
case "$ERR" in *"format 7"*) ;; *) fail "inner format message: $ERR" ;; esac
"$CRAFT" "$P" "$WORK/nosummary.cairn" drop summary.msgpack
restore_fails 4 "$WORK/nosummary.cairn"
# the last chunk of the last kind: every record before it reached MariaDB, then the
# missing chunk is found: the transaction must be rolled back
"$CRAFT" "$P" "$WORK/lost.cairn" drop records/FLOW/000001.msgpack
restore_fails 4 "$WORK/lost.cairn"
case "$ERR" in *"summary says"*) ;; *) fail "missing chunk message: $ERR" ;; esac
"$CRAFT" "$P" "$WORK/lostlast.cairn" drop records/USER/000001.msgpack
restore_fails 4 "$WORK/lostlast.cairn"
case "$ERR" in *"summary says"*) ;; *) fail "missing last chunk message: $ERR" ;; esac
note "../ path, inner format, missing summary or chunk: refused (exit 4), nothing written"

# the target itself was never touched: still empty, still Kestra's schema
[ "$(my "$dst" "SELECT COUNT(*) FROM flyway_schema_history")" = 7 ] || fail "the target's schema changed"
note "ok"
