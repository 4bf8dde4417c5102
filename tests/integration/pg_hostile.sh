#!/usr/bin/env bash
# Authentic archives with hostile content (tests/integration/lib.sh
# refuse_hostile) restored into a PostgreSQL holding data: refused with
# exit 4 (3 for a downgrade) before a single row changes, with and without
# --replace, and verify refuses the same archives with the same codes.
. "$(dirname "$0")/lib.sh"
need_pg

src=$(new_db src sample)
dst=$(new_db dst sample)
t=$(create TENANT --tenant main --source "$(uri "$src")")
f=$(create FULL --source "$(uri "$src")")
p=$(create FULL --source "$(uri "$src")" --no-encryption)
before=$(digest "$dst")

refused() { # CODE FILE [extra args]
	local code=$1 file=$2; shift 2
	expect_fail "$code" "$CAIRN" backups restore "file://$file" --source "$(uri "$dst")" "$@"
	[ "$(digest "$dst")" = "$before" ] || fail "the target changed after: $ERR"
}
refuse_hostile "${t#file://}" "${f#file://}" "${p#file://}"
note "other tenant, JSON tenantId, tenant_id column, instance kind, nil tenant, key column, UTF-8, NUL, downgrade: refused, target unchanged"

# the intact archives still restore
"$CAIRN" backups restore "$t" --replace --source "$(uri "$dst")" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err" >&2; fail "the intact TENANT backup does not restore"; }
"$CAIRN" backups restore "$p" --allow-unencrypted --source "$(uri "$dst")" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err" >&2; fail "the unencrypted backup does not restore with --allow-unencrypted"; }
note "ok"
