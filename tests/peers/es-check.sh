#!/bin/sh
# Check Cairn's Elasticsearch test server against expectations others wrote:
#   1. Elastic's YAML REST tests (../shared/es-rest-tests, via es-yaml-run);
#   2. Elastic's JavaScript client (es-client-check/, npm @elastic/elasticsearch),
#      once without and once with authentication.
#
#   es-check.sh [PORT]     uses PORT and PORT+1 (default 22010, 22011)
#
# ES_REST_TESTS overrides the test data folder (default ../shared/es-rest-tests
# next to the checkout, else /work/shared/es-rest-tests). The npm client is
# installed with `npm ci` when es-client-check/node_modules is missing.
# Exits non-zero if anything fails.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
port=${1:-22010}
case "$port" in '' | *[!0-9]*) echo "usage: $0 [PORT]" >&2; exit 2 ;; esac
port2=$((port + 1))

data=${ES_REST_TESTS:-}
if [ -z "$data" ]; then
	for d in "$root/../shared/es-rest-tests" /work/shared/es-rest-tests; do
		if [ -d "$d/test" ] && [ -d "$d/api" ]; then
			data=$(cd "$d" && pwd)
			break
		fi
	done
fi
if [ -z "$data" ] || [ ! -d "$data/test" ]; then
	echo "$0: Elastic's REST test data not found (set ES_REST_TESTS)" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/cairn-es-check.XXXXXX)
cleanup() {
	"$here/elasticsearch.sh" stop "$tmp/plain" >/dev/null 2>&1 || true
	"$here/elasticsearch.sh" stop "$tmp/auth" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

status=0

# Elastic's own test clusters allow wildcard index deletes; so does this one.
CAIRN_ES_DESTRUCTIVE_REQUIRES_NAME=false "$here/elasticsearch.sh" start "$tmp/plain" "$port"

echo "== Elastic's YAML REST tests ($data)"
if ! "$here/es-yaml-run" "http://127.0.0.1:$port" "$data/test" "$data/api"; then
	status=1
fi

echo "== @elastic/elasticsearch client check"
cc="$here/es-client-check"
if ! command -v node >/dev/null 2>&1; then
	echo "$0: node is needed for the client check (Debian: apt-get install nodejs npm)" >&2
	exit 1
fi
if [ ! -d "$cc/node_modules/@elastic/elasticsearch" ]; then
	(cd "$cc" && npm ci --no-audit --no-fund --loglevel=error) || {
		echo "$0: npm ci failed in $cc" >&2
		exit 1
	}
fi
if ! node "$cc/check.js" "http://127.0.0.1:$port"; then
	status=1
	tail -n 20 "$tmp/plain/server.log" >&2 || true
fi
"$here/elasticsearch.sh" stop "$tmp/plain"

echo "== @elastic/elasticsearch client check, with basic auth and an API key"
key="cairn-test-key:$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
CAIRN_ES_USER=elastic CAIRN_ES_PASSWORD=cairn-test-password CAIRN_ES_API_KEY="$key" \
	"$here/elasticsearch.sh" start "$tmp/auth" "$port2"
if ! ES_USER=elastic ES_PASSWORD=cairn-test-password ES_AUTH_CHECK=1 \
	node "$cc/check.js" "http://127.0.0.1:$port2"; then
	status=1
fi
if ! ES_API_KEY=$(printf %s "$key" | base64 | tr -d '\n') \
	node "$cc/check.js" "http://127.0.0.1:$port2" >/dev/null; then
	echo "$0: the client check failed with an API key" >&2
	status=1
else
	echo "ok - the same checks pass with Authorization: ApiKey"
fi
"$here/elasticsearch.sh" stop "$tmp/auth"

if [ "$status" -ne 0 ]; then
	echo "es-check: FAILED" >&2
else
	echo "es-check: all passed"
fi
exit "$status"
