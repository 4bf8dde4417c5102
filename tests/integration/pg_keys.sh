#!/usr/bin/env bash
# Key slots: instance key + recipient; passphrase; no key at all.
. "$(dirname "$0")/lib.sh"
need_pg

src=$(new_db src sample)
dst=$(new_db dst)
"$CAIRN" keys generate "$WORK/recovery" >/dev/null
[ "$(stat -c %a "$WORK/recovery.key")" = 600 ] || fail "identity file is not 0600"
expect_fail 2 "$CAIRN" keys generate "$WORK/recovery"   # never overwrites

u=$(create FULL --source "$(uri "$src")" --recipient "$WORK/recovery.pub")
"$CAIRN" backups info "$u" --storage "$STORE" | grep -Eq 'key slots: *instance key [0-9a-f]{16}, recipient [0-9a-f]{16}$' || fail "info lacks the slots and their ids"

# the recipient alone opens it (the instance and its key are gone)
(unset CAIRN_ENCRYPTION_KEY; "$CAIRN" backups verify "$u" --identity "$WORK/recovery.key" --storage "$STORE" >/dev/null 2>&1) ||
	fail "recovery identity alone does not open the backup"
# neither: a clean key error, nothing written
expect_fail 3 env CAIRN_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" \
	"$CAIRN" backups restore "$u" --source "$(uri "$dst")" --storage "$STORE"
case "$ERR" in *"no key opens this backup"*) ;; *) fail "unexpected message: $ERR" ;; esac
[ "$(total_rows "$dst")" = 0 ] || fail "a failed restore wrote rows"
(unset CAIRN_ENCRYPTION_KEY; "$CAIRN" backups restore "$u" --identity "$WORK/recovery.key" --source "$(uri "$dst")" --storage "$STORE" >/dev/null 2>&1) ||
	fail "restore with the identity failed"
[ "$(digest "$src")" = "$(digest "$dst")" ] || fail "identity restore differs"

# passphrase from a file: used instead of the instance key
printf 'correct horse battery staple\n' >"$WORK/pass"
u=$(create FULL --source "$(uri "$src")" --encryption-key-file "$WORK/pass")
"$CAIRN" backups info "$u" --encryption-key-file "$WORK/pass" --storage "$STORE" | grep -q 'key slots: *passphrase$' ||
	fail "passphrase backup also has an instance slot"
expect_fail 3 "$CAIRN" backups verify "$u" --storage "$STORE"
expect_fail 3 "$CAIRN" backups verify "$u" --encryption-key 'wrong horse' --storage "$STORE"
"$CAIRN" backups verify "$u" --encryption-key 'correct horse battery staple' --storage "$STORE" >/dev/null 2>&1 ||
	fail "passphrase on the command line does not open it"

# no key configured at all: refuse, and say how to configure one
expect_fail 3 env -u CAIRN_ENCRYPTION_KEY "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE"
case "$ERR" in *"openssl rand -base64 32"*) ;; *) fail "no-key message lacks the hint: $ERR" ;; esac
# a malformed instance key is a clear error too
expect_fail 3 env CAIRN_ENCRYPTION_KEY='not base64!' "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE"
expect_fail 3 env CAIRN_ENCRYPTION_KEY="$(head -c 7 /dev/urandom | base64)" "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE"
# the key never shows in logs, even with -v
"$CAIRN" -v backups create FULL --source "$(uri "$src")" --storage "$STORE" --encryption-key 'sekrit-passphrase' >/dev/null 2>"$WORK/log"
grep -q 'sekrit-passphrase' "$WORK/log" && fail "passphrase appears in the log"
note "ok"
