#!/usr/bin/env bash
# No password from a URI appears in any output — log lines, the error line,
# JSON — for every plugin, including the client libraries' own parse errors
# that quote the URI; secrets given on the command line work but warn.
# Needs no server: every URI here is unreachable or malformed.
. "$(dirname "$0")/lib.sh"

LONG='Sup3rS3cretPw' SHORT='Zq9'
leaks() { # FILE… — fails if a password shows
	if grep -qF -e "$LONG" -e "$SHORT" -e 'p@ss!' -e 'p%40ss%21' "$@"; then
		cat "$@" >&2
		fail "a password shows in the output"
	fi
}
run() { # CMD… — run, keep stdout and stderr, any exit code
	"$@" >"$WORK/out" 2>"$WORK/err" || true
	leaks "$WORK/out" "$WORK/err"
}

for u in "postgresql://u:$SHORT@[::1" "postgresql://u:$LONG@127.0.0.1:1/db" "postgres://u:$LONG@[::1/db" \
	"mysql://u:$SHORT@[::1" "mysql://u:$LONG@127.0.0.1:1/db" "postgresql://u:p%40ss%21@[::1" \
	"mysql://u:p%40ss%21@127.0.0.1:1/db"; do
	for out in text json; do
		run "$CAIRN" backups create FULL --no-encryption --source "$u" --storage "$STORE" --output "$out" -v
		grep -q '^cairn: error: ' "$WORK/err" || fail "no error for $u"
		grep -q 'visible to other users in the process list' "$WORK/err" || fail "no warning for --source $u"
		run env CAIRN_SOURCE="$u" "$CAIRN" backups create FULL --no-encryption --storage "$STORE" --output "$out"
		grep -q 'process list' "$WORK/err" && fail "a URI from the environment warned"
		run "$CAIRN" backups restore "$STORE/backups/full/x.cairn" --source "$u" --output "$out"
	done
done
note "postgresql, mysql: masked in text and JSON, parse errors included"

for u in "s3://AKIDEXAMPLE:$LONG@bucket/p" "minio://AKIDEXAMPLE:$SHORT@127.0.0.1:1/bucket/p" \
	"minio://u:$LONG@[::1/b"; do
	for out in text json; do
		run "$CAIRN" backups list --storage "$u" --output "$out" -v
		grep -q 'process list' "$WORK/err" || fail "no warning for --storage $u"
		run "$CAIRN" backups verify "$u/backups/full/x.cairn" --output "$out"
		run "$CAIRN" backups create FULL --no-encryption --source "postgresql://u@127.0.0.1:1/db" --storage "$u" --output "$out"
	done
done
note "s3, minio, fs: masked"

# secrets on the command line: they work, with a warning naming the alternative
run "$CAIRN" backups create FULL --encryption-key "$LONG" --source "postgresql://u@127.0.0.1:1/db" --storage "$STORE"
grep -q -- '--encryption-key-file' "$WORK/err" || fail "no warning for --encryption-key"
run "$CAIRN" backups create FULL --no-encryption -o "password=$LONG" --source "postgresql://u@127.0.0.1:1/db" --storage "$STORE"
grep -q 'password=… is visible' "$WORK/err" || fail "no warning for -o password="
note "ok"
