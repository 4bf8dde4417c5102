#!/usr/bin/env bash
# The main job, end to end, on a throwaway local PostgreSQL:
#   install the dependencies, build, start PostgreSQL on 127.0.0.1, load
#   Kestra's metadata tables with sample records (3 tenants, flows with
#   several revisions, triggers, settings, dashboards …), run
#   `cairn backups create FULL`, restore that backup into a second, empty
#   database, and show that both hold the same records.
# Everything lives in a temporary directory that is removed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
echo "== installing what is missing (packaging/build-deps.txt)"
"$here/tests/install-deps.sh"
build=${CAIRN_BUILD_DIR:-$here/build}
echo "== building cairn and its plugins into $build (a minute or two the first time)"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j2 >/dev/null
echo "== starting a throwaway PostgreSQL on 127.0.0.1:${CAIRN_DEMO_PORT:-15499}" 
cairn="$build/core/cairn"
export CAIRN_PLUGIN_PATH="$build/plugins" CAIRN_CONFIG=/dev/null

tmp=$(mktemp -d /tmp/cairn-demo.XXXXXX)
chmod 755 "$tmp"
port=${CAIRN_DEMO_PORT:-15499}
trap '"$here/tests/peers/postgresql.sh" stop "$tmp/pg" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
"$here/tests/peers/postgresql.sh" start "$tmp/pg" "$port"
export PGOPTIONS="-c client_min_messages=warning"
pg() { psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
pg -d postgres -c "CREATE DATABASE kestra" -c "CREATE DATABASE kestra_restored"
pg -d kestra -f "$here/tests/fixtures/kestra-postgres.sql" -f "$here/tests/fixtures/kestra-sample.sql"
pg -d kestra_restored -f "$here/tests/fixtures/kestra-postgres.sql"

# the instance key, as Kestra's kestra.encryption.secret-key (base64)
export CAIRN_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
export CAIRN_STORAGE="file://$tmp/storage"   # what cairn:/// URIs resolve to

echo "== cairn backups create FULL"
out=$("$cairn" backups create FULL --source "postgresql://postgres@127.0.0.1:$port/kestra")
echo "$out"
uri=${out#Backup created: }
echo "== cairn backups restore $uri (into an empty database)"
"$cairn" backups restore "$uri" --source "postgresql://postgres@127.0.0.1:$port/kestra_restored"

echo "== comparing every row of every metadata table"
same=1
for t in bindings blueprints dashboards flows groups kv_metadata namespaces namespace_file_metadata \
	roles secrets security_integrations settings templates tenants tenant_access triggers users; do
	q="SELECT count(*) || ' rows, md5 ' || md5(coalesce(string_agg(x::text, '|' ORDER BY key), '')) FROM $t x"
	a=$(pg -d kestra -c "$q")
	b=$(pg -d kestra_restored -c "$q")
	if [ "$a" = "$b" ]; then s=equal; else s=DIFFERENT; same=0; fi
	printf '  %-24s %-46s %s\n' "$t" "$a" "$s"
done
if [ $same = 1 ]; then
	echo "Both databases hold the same records."
else
	echo "The databases differ." >&2
	exit 1
fi
