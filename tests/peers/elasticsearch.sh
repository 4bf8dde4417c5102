#!/bin/sh
# Cairn's Elasticsearch-API test server for the tests, on loopback only.
#
#   elasticsearch.sh start DIR PORT   start it with its journal in DIR/data
#   elasticsearch.sh stop DIR         stop it (nothing to do if it is not running)
#
# This is our emulator of the documented Elasticsearch 8.x REST API
# (tests/peers/es/es_server.py, see docs/elasticsearch-test-server.md), not
# Elasticsearch. Its log is DIR/server.log, its pid DIR/elasticsearch.pid.
# The environment passes through to the server:
#   CAIRN_ES_USER, CAIRN_ES_PASSWORD    require HTTP basic auth
#   CAIRN_ES_API_KEY                    also accept "Authorization: ApiKey KEY"
#   CAIRN_ES_DESTRUCTIVE_REQUIRES_NAME  "false" allows DELETE /* (as Elastic's
#                                       own test clusters do; ES 8 default: true)
#   CAIRN_ES_TLS_CERT, CAIRN_ES_TLS_KEY PEM files: serve HTTPS instead of HTTP
set -eu

usage() {
	echo "usage: $0 start DIR PORT | stop DIR" >&2
	exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
server="$here/es/es_server.py"
scheme=http
if [ -n "${CAIRN_ES_TLS_CERT:-}" ]; then
	scheme=https
fi

# Is an Elasticsearch-API server answering on PORT? (401 counts: it is up.)
ping_server() {
	if command -v curl >/dev/null 2>&1; then
		curl -sk -o /dev/null -D - --max-time 2 "$scheme://127.0.0.1:$1/" 2>/dev/null |
			grep -qi '^X-elastic-product: Elasticsearch'
		return
	fi
	python3 - "$1" "$scheme" <<'EOF' >/dev/null 2>&1
import http.client, ssl, sys
if sys.argv[2] == "https":
    c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), timeout=2,
                                    context=ssl._create_unverified_context())
else:
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=2)
c.request("GET", "/")
r = c.getresponse()
r.read()
sys.exit(0 if r.getheader("X-elastic-product") == "Elasticsearch" else 1)
EOF
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2

case "$cmd" in
start)
	[ $# -eq 3 ] || usage
	port=$3
	case "$port" in '' | *[!0-9]*) usage ;; esac
	if ! command -v python3 >/dev/null 2>&1; then
		echo "$0: python3 is needed (Debian: apt-get install python3)" >&2
		exit 1
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	pidfile="$dir/elasticsearch.pid"
	if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		if [ "$(cat "$dir/port" 2>/dev/null)" = "$port" ] && ping_server "$port"; then
			echo "elasticsearch (cairn test server) ready on $scheme://127.0.0.1:$port"
			exit 0
		fi
		echo "$0: a server already runs in $dir, but not on port $port" >&2
		exit 1
	fi
	if ping_server "$port"; then
		echo "$0: port $port is already taken by another Elasticsearch-API server" >&2
		exit 1
	fi
	echo "$port" >"$dir/port"
	# Detached from the caller's stdout so that $(elasticsearch.sh start …) returns.
	python3 "$server" --host 127.0.0.1 --port "$port" --data "$dir/data" \
		--pid-file "$pidfile" </dev/null >>"$dir/server.log" 2>&1 &
	i=0
	while ! ping_server "$port"; do
		i=$((i + 1))
		if [ "$i" -ge 150 ] || { [ "$i" -gt 5 ] && ! kill -0 $! 2>/dev/null; }; then
			echo "$0: the Elasticsearch test server did not start, see $dir/server.log" >&2
			tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
			kill $! 2>/dev/null || true
			exit 1
		fi
		sleep 0.1
	done
	echo "elasticsearch (cairn test server) ready on $scheme://127.0.0.1:$port"
	;;
stop)
	[ $# -eq 2 ] || usage
	pidfile="$dir/elasticsearch.pid"
	[ -f "$pidfile" ] || exit 0
	pid=$(cat "$pidfile")
	case "$pid" in '' | *[!0-9]*) exit 0 ;; esac
	kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; exit 0; }
	kill -TERM "$pid"
	i=0
	# A zombie waiting for its reaper has stopped serving: count it as gone.
	while kill -0 "$pid" 2>/dev/null &&
		[ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != Z ]; do
		i=$((i + 1))
		if [ "$i" -ge 100 ]; then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$pidfile"
	;;
*)
	usage
	;;
esac
