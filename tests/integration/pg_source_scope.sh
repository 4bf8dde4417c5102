#!/usr/bin/env bash
# The PostgreSQL plugin's ABI 1.2 scope members, driven directly by
# tests/tools/source_scope.c: ANY, ONE and NONE (tenant_id IS NULL, never
# every record), restore_delete_scoped NONE and list_tenants, on flows of
# tenants main and other and flows without a tenant.
. "$(dirname "$0")/lib.sh"
need_pg

db=$(new_db scope)
flow() { # KEY [TENANT]
	local t=${2:+, \"tenantId\": \"$2\"}
	echo "INSERT INTO flows (key, value, source_code) VALUES ('$1',
		'{\"id\": \"$1\", \"namespace\": \"io.cairn\", \"revision\": 1, \"deleted\": false$t}', 'id: $1');"
}
pg "$db" -c "$(flow m1 main) $(flow m2 main) $(flow o1 other) $(flow n1) $(flow n2)
	CREATE TABLE cairn_scope_plain (key VARCHAR(250) PRIMARY KEY, v TEXT);
	INSERT INTO cairn_scope_plain VALUES ('p1', 'a'), ('p2', 'b');"

"$SOURCE_SCOPE" "$CAIRN_PLUGIN_PATH/cairn-source-postgresql.so" "$(uri "$db")" >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/out" "$WORK/err"; fail "the scope checks failed"; }
cat "$WORK/out"
grep -q 'AddressSanitizer\|runtime error' "$WORK/err" && { cat "$WORK/err"; fail "sanitizer report"; }
# what the driver saw, seen from the server too
[ "$(pg "$db" -c "SELECT string_agg(key || ':' || coalesce(tenant_id, '-'), ' ' ORDER BY key) FROM flows")" = \
	"m1:main m2:main o1:other" ] || fail "after the NONE delete: $(pg "$db" -c "SELECT key, tenant_id FROM flows")"
[ "$(pg "$db" -c "SELECT count(*) FROM cairn_scope_plain")" = 2 ] || fail "cairn_scope_plain changed"
note "ok"
