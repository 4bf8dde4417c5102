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

# the intact archives restore (so that every refusal below is the damage's doing)
ok=$(new_my_db ok)
"$CAIRN" backups restore "$plain" --allow-unencrypted --source "$(myuri "$ok")" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err" >&2; fail "the intact unencrypted archive does not restore"; }
[ "$(my_digest "$src")" = "$(my_digest "$ok")" ] || fail "the intact archive restores different rows"

restore_fails() { # CODE FILE [extra args]
	local code=$1 file=$2; shift 2
	expect_fail "$code" "$CAIRN" backups restore "file://$file" --source "$(myuri "$dst")" --allow-unencrypted "$@"
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

refuse_damaged "$P" "$E"
# the last chunk of the last kind: every record before it reached MariaDB, then the
# missing chunk is found: the transaction must be rolled back
"$CRAFT" "$P" "$WORK/lostlast.cairn" drop records/USER/000001.msgpack
restore_fails 4 "$WORK/lostlast.cairn"
case "$ERR" in *"summary says"*) ;; *) fail "missing last chunk message: $ERR" ;; esac
note "../ path, inner format, missing summary or chunk: refused (exit 4), nothing written"

# the target itself was never touched: still empty, still Kestra's schema
[ "$(my "$dst" "SELECT COUNT(*) FROM flyway_schema_history")" = 7 ] || fail "the target's schema changed"
note "ok"
