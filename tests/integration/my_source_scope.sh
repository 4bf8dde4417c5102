#!/usr/bin/env bash
# The MySQL plugin's ABI 1.2 scope members against MariaDB, driven directly
# by tests/tools/source_scope.c (see pg_source_scope.sh): ANY, ONE (bytes,
# not the case-insensitive collation) and NONE (tenant IS NULL, never every
# record), restore_delete_scoped NONE and list_tenants.
. "$(dirname "$0")/lib.sh"
need_my
# See my_roundtrip.sh: GCC 12's LeakSanitizer and the TLS of an unused libpq.
case ",${ASAN_OPTIONS:-}," in *intercept_tls_get_addr*) ;; *)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}intercept_tls_get_addr=0" ;; esac

db=$(new_my_db scope)
rows=""
for kt in m1:main m2:main o1:other n1: n2:; do
	k=${kt%%:*} t=${kt#*:}
	[ -n "$rows" ] && rows+=", "
	rows+="('$k', '{\"id\": \"$k\", \"namespace\": \"io.cairn\", \"revision\": 1, \"deleted\": false${t:+, \"tenantId\": \"$t\"}}', 'id: $k')"
done
my "$db" "INSERT INTO \`flows\` (\`key\`, \`value\`, source_code) VALUES $rows;
	CREATE TABLE cairn_scope_plain (\`key\` VARCHAR(250) PRIMARY KEY, v TEXT);
	INSERT INTO cairn_scope_plain VALUES ('p1', 'a'), ('p2', 'b')"

"$SOURCE_SCOPE" "$CAIRN_PLUGIN_PATH/cairn-source-mysql.so" "$(myuri "$db")" >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/out" "$WORK/err"; fail "the scope checks failed"; }
cat "$WORK/out"
grep -q 'AddressSanitizer\|runtime error' "$WORK/err" && { cat "$WORK/err"; fail "sanitizer report"; }
[ "$(my "$db" "SELECT GROUP_CONCAT(CONCAT(\`key\`, ':', COALESCE(tenant_id, '-')) ORDER BY \`key\` SEPARATOR ' ') FROM flows")" = \
	"m1:main m2:main o1:other" ] || fail "after the NONE delete: $(my "$db" "SELECT \`key\`, tenant_id FROM flows")"
[ "$(my "$db" "SELECT COUNT(*) FROM cairn_scope_plain")" = 2 ] || fail "cairn_scope_plain changed"
note "ok"
