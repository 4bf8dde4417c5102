#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build with
# ASan/UBSan and -Werror, start the test servers on 127.0.0.1, run every
# unit, integration and fuzz-smoke test, stop the servers.
#
#   tests/run-all.sh            (as root on a fresh Debian 12, or with the
#                                packages of packaging/build-deps.txt installed)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${CAIRN_BUILD_DIR:-$here/build-test}
fuzzbuild=${CAIRN_FUZZ_BUILD_DIR:-$here/build-fuzz}
"$here/tests/install-deps.sh"

cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=ON \
	-DCAIRN_SANITIZE=ON -DCAIRN_WERROR=ON >/dev/null
cmake --build "$build" -j2 >/dev/null

peers=$(mktemp -d /tmp/cairn-peers.XXXXXX)
chmod 755 "$peers"
cleanup() {
	"$here/tests/peers/postgresql.sh" stop "$peers/pg" >/dev/null 2>&1 || true
	"$here/tests/peers/mariadb.sh" stop "$peers/my" >/dev/null 2>&1 || true
	"$here/tests/peers/rgw.sh" stop "$peers/rgw" >/dev/null 2>&1 || true
	"$here/tests/peers/elasticsearch.sh" stop "$peers/es" >/dev/null 2>&1 || true
	rm -rf "$peers"
}
trap cleanup EXIT
export CAIRN_TEST_PG_PORT=${CAIRN_TEST_PG_PORT:-15433}
"$here/tests/peers/postgresql.sh" start "$peers/pg" "$CAIRN_TEST_PG_PORT"
export CAIRN_TEST_MY_PORT=${CAIRN_TEST_MY_PORT:-15434}
"$here/tests/peers/mariadb.sh" start "$peers/my" "$CAIRN_TEST_MY_PORT"
export CAIRN_TEST_RGW_PORT=${CAIRN_TEST_RGW_PORT:-15435}
"$here/tests/peers/rgw.sh" start "$peers/rgw" "$CAIRN_TEST_RGW_PORT"

# the Elasticsearch-API test server against Elastic's YAML REST tests and
# Elastic's JavaScript client (docs/elasticsearch-test-server.md); the client
# needs Node.js >= 18 and npm: Debian's, when the machine has none
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
export CAIRN_TEST_ES_PORT=${CAIRN_TEST_ES_PORT:-15436}
"$here/tests/peers/es-check.sh" "$CAIRN_TEST_ES_PORT"   # this port and the next
# only a server that passed those checks serves the plugin's tests, on the same
# port once es-check.sh has stopped its own (es_roundtrip.sh also uses the next)
"$here/tests/peers/elasticsearch.sh" start "$peers/es" "$CAIRN_TEST_ES_PORT"

# intercept_tls_get_addr=0: GCC 12's LeakSanitizer with glibc 2.36 may crash at exit on
# the dynamic TLS of a loaded but unused plugin's libraries (see tests/integration/my_roundtrip.sh)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:intercept_tls_get_addr=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd "$build" && ctest --output-on-failure -j2)

# libFuzzer targets, briefly (clang)
CC=clang cmake -S "$here" -B "$fuzzbuild" -DBUILD_TESTING=ON -DCAIRN_FUZZ=ON \
	-DCAIRN_PLUGIN_POSTGRESQL=OFF -DCAIRN_PLUGIN_MYSQL=OFF -DCAIRN_PLUGIN_S3=OFF -DCAIRN_PLUGIN_FS=OFF >/dev/null
cmake --build "$fuzzbuild" -j2 >/dev/null
(cd "$fuzzbuild" && ctest --output-on-failure -L fuzz)
