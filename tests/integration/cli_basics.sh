#!/usr/bin/env bash
# The command line without servers: help, version, usage errors and their
# exit codes, plugin listing.
. "$(dirname "$0")/lib.sh"

"$CAIRN" --help >"$WORK/help" || fail "--help failed"
for w in "backups create" "backups restore" "backups list" "backups info" "backups verify" "backups check" \
	"keys generate" "plugins list" "plugins check" "--encryption-key" "--no-encryption" \
	"--recipient" "--identity" "--dry-run" "--replace" "--to-tenant" "--output" "Exit codes"; do
	grep -q -- "$w" "$WORK/help" || fail "--help does not mention '$w'"
done
"$CAIRN" --version | grep -q '^cairn [0-9]' || fail "--version"
# a subcommand's help is its own: its options and the common ones, no other command's
"$CAIRN" backups create --help >"$WORK/h" || fail "backups create --help failed"
grep -q -- "--include-data" "$WORK/h" && grep -q -- "--source URI" "$WORK/h" || fail "create --help lacks its options"
if grep -q -- "--dry-run\|--keep-last" "$WORK/h"; then fail "create --help shows other commands' options"; fi
"$CAIRN" backups restore -h >"$WORK/h" || fail "backups restore -h failed"
grep -q -- "--to-tenant" "$WORK/h" && grep -q -- "--identity" "$WORK/h" || fail "restore --help lacks its options"
if grep -q -- "--null-tenant" "$WORK/h"; then fail "restore --help shows create's options"; fi
"$CAIRN" backups check --help | grep -q -- "--max-age" || fail "check --help"
expect_fail 2 "$CAIRN" backups create PARTIAL
expect_fail 2 "$CAIRN" backups create FULL --tenant acme
expect_fail 2 "$CAIRN" backups restore
expect_fail 2 "$CAIRN" frobnicate
expect_fail 2 "$CAIRN" --log-level debug backups list
case "$ERR" in "cairn: error: unknown option '--log-level'"*) ;; *) fail "unknown option message: $ERR" ;; esac
expect_fail 2 "$CAIRN" -x backups list
expect_fail 2 "$CAIRN" backups list --storage
case "$ERR" in *"option '--storage' needs a value"*) ;; *) fail "missing value message: $ERR" ;; esac
expect_fail 2 "$CAIRN" backups restore 'cairn:///../../etc/passwd'
expect_fail 2 "$CAIRN" backups create TENANT --tenant 'a/b' --no-encryption
expect_fail 2 "$CAIRN" --output yaml plugins list
expect_fail 2 "$CAIRN" backups create FULL --no-encryption --source nonsense
expect_fail 7 "$CAIRN" backups create FULL --no-encryption --source 'mongodb://x/y' --storage "$STORE"
expect_fail 2 "$CAIRN" --config "$WORK/missing.conf" backups list
printf '[encryption\nsecret-key = x\n' >"$WORK/bad.conf"
expect_fail 2 "$CAIRN" --config "$WORK/bad.conf" backups list
"$CAIRN" plugins list | grep -q '^fs  *storage' || fail "plugins list lacks fs"
"$CAIRN" --output json plugins list | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "plugins list json"
"$CAIRN" backups list --storage "$STORE" --output json | python3 -c 'import json,sys; assert json.load(sys.stdin) == []' ||
	fail "empty list json"
note "ok"
