#!/usr/bin/env bash
# The hostile archives of pg_hostile.sh (lib.sh refuse_hostile), restored
# into a MariaDB holding data: refused, target unchanged, verify agrees.
. "$(dirname "$0")/lib.sh"
need_my
# See my_roundtrip.sh: GCC 12's LeakSanitizer and the TLS of an unused libpq.
case ",${ASAN_OPTIONS:-}," in *intercept_tls_get_addr*) ;; *)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}intercept_tls_get_addr=0" ;; esac

src=$(new_my_db src sample)
dst=$(new_my_db dst sample)
t=$(create TENANT --tenant main --source "$(myuri "$src")")
f=$(create FULL --source "$(myuri "$src")")
p=$(create FULL --source "$(myuri "$src")" --no-encryption)
before=$(my_digest "$dst")

refused() { # CODE FILE [extra args]
	local code=$1 file=$2; shift 2
	expect_fail "$code" "$CAIRN" backups restore "file://$file" --source "$(myuri "$dst")" "$@"
	[ "$(my_digest "$dst")" = "$before" ] || fail "the target changed after: $ERR"
}
refuse_hostile "${t#file://}" "${f#file://}" "${p#file://}"
note "other tenant, JSON tenantId, tenant_id column, instance kind, nil tenant, key column, UTF-8, NUL, downgrade: refused, target unchanged"

"$CAIRN" backups restore "$t" --replace --source "$(myuri "$dst")" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err" >&2; fail "the intact TENANT backup does not restore"; }
note "ok"
