# Shared by the benchmark scripts (sourced, bash, after setting $here to the checkout): the
# sizes, the tools, the Release build, the temporary directory and the servers in it, timing
# with peak RSS, number formatting, the RSS-growth table, and the throwaway PostgreSQL with
# its Kestra-schema databases and row checksums.

# The 17 metadata tables of Kestra's JDBC schema (one kind each).
bench_tables="bindings blueprints dashboards flows groups kv_metadata namespaces namespace_file_metadata
roles secrets security_integrations settings templates tenants tenant_access triggers users"

# bench_sizes SCALE [BASE] — the two flow-row counts, into $sizes: $BENCH_SIZES when set,
# else SCALE × BASE and SCALE × 10 BASE (BASE 10000). Exits on a malformed SCALE.
bench_sizes() {
	local base=${2:-10000}
	case "$1" in '' | *[!0-9.]* | .*) echo "usage: $0 [SCALE]" >&2; exit 2 ;; esac
	if [ -n "${BENCH_SIZES:-}" ]; then
		sizes=$BENCH_SIZES
	else
		sizes="$(awk -v s="$1" -v b="$base" 'BEGIN{printf "%d", b*s}') $(awk -v s="$1" -v b="$base" 'BEGIN{printf "%d", 10*b*s}')"
	fi
}

# bench_command SCRIPT SCALE — the command line of this run as the report quotes it:
# BENCH_SIZES (then without SCALE, which it overrides) and BENCH_KESTRA_INDEXES in front
# when they were set.
bench_command() {
	local c="bench/$1 $2"
	[ -z "${BENCH_SIZES:-}" ] || c="BENCH_SIZES=\"$BENCH_SIZES\" bench/$1"
	[ -z "${BENCH_KESTRA_INDEXES:-}" ] || c="BENCH_KESTRA_INDEXES=$BENCH_KESTRA_INDEXES $c"
	printf '%s' "$c"
}

# bench_need [--hint TEXT] TOOL… — /usr/bin/time (GNU time: %M is the peak RSS), installed
# when missing; exits naming the first TOOL not on the PATH (and TEXT, how to install it).
bench_need() {
	local hint="" t
	if [ "${1:-}" = --hint ]; then hint=" ($2)"; shift 2; fi
	[ -x /usr/bin/time ] || apt-get install -y time >/dev/null
	for t; do
		command -v "$t" >/dev/null || { echo "$0: $t is missing$hint" >&2; exit 1; }
	done
}

# bench_tmp NAME — $tmp, a fresh /tmp/NAME.XXXXXX, with Cairn's instance key and fs storage
# in it. On exit, the servers still registered are stopped and $tmp is removed, unless
# BENCH_KEEP=1 (then both stay, and are named).
bench_tmp() {
	tmp=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 755 "$tmp"   # the servers run as `postgres` / `mysql` when we are root
	trap bench_cleanup EXIT
	export CAIRN_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
	export CAIRN_STORAGE="file://$tmp/storage"
}
declare -A bench_servers   # DIR -> "PEER PORT", the servers bench_cleanup stops
bench_cleanup() {
	local dir
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "kept $tmp$(for dir in "${!bench_servers[@]}"; do printf ' (%s on port %s)' ${bench_servers[$dir]}; done)" >&2
		return
	fi
	for dir in "${!bench_servers[@]}"; do
		"$here/tests/peers/${bench_servers[$dir]%% *}.sh" stop "$dir" >/dev/null 2>&1 || true
	done
	rm -rf "$tmp"
}

# bench_server_start PEER DIR PORT — tests/peers/PEER.sh start DIR PORT, registered for
# bench_cleanup; bench_server_stop DIR stops it now.
bench_server_start() {
	"$here/tests/peers/$1.sh" start "$2" "$3" >&2
	bench_servers[$2]="$1 $3"
}
bench_server_stop() {
	"$here/tests/peers/${bench_servers[$1]%% *}.sh" stop "$1"
	unset "bench_servers[$1]"
}

# bench_build HERE — Release build into HERE/build-bench; sets $cairn and the plugin path.
# With BENCH_CAIRN set (a cairn binary, CAIRN_PLUGIN_PATH pointing at its plugins) nothing
# is built: that build is measured (the test suite's smoke run uses its own).
bench_build() {
	if [ -n "${BENCH_CAIRN:-}" ]; then
		cairn=$BENCH_CAIRN
		: "${CAIRN_PLUGIN_PATH:?BENCH_CAIRN needs CAIRN_PLUGIN_PATH}"
		export CAIRN_PLUGIN_PATH CAIRN_CONFIG=/dev/null
		return 0
	fi
	echo "== building Cairn (Release) into build-bench/" >&2
	cmake -S "$1" -B "$1/build-bench" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
	cmake --build "$1/build-bench" -j"$(nproc)" >/dev/null
	cairn="$1/build-bench/core/cairn"
	export CAIRN_PLUGIN_PATH="$1/build-bench/plugins" CAIRN_CONFIG=/dev/null
}

# server_ticks PID — CPU clock ticks of the server process PID: its own, those of the
# children it has reaped (PostgreSQL's backends, once their client has gone) and those of
# its live children (Linux /proc).
server_ticks() {
	local pid=$1 t c
	t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat")
	for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# measure NAME CMD… — run CMD under /usr/bin/time; T[NAME] wall s, M[NAME] peak RSS KiB,
# C[NAME] CPU s (user + system); output in $tmp/out.NAME, stderr in $tmp/err.NAME.
# With $bench_server_pid set, S[NAME] is the server's CPU s meanwhile (server_ticks):
# on a shared machine it says what the work cost when wall times are noisy.
measure() {
	local name=$1; shift
	local s0=0
	[ -n "${bench_server_pid:-}" ] && s0=$(server_ticks "$bench_server_pid")
	/usr/bin/time -f '%e %M %U %S' -o "$tmp/time.$name" "$@" >"$tmp/out.$name" 2>"$tmp/err.$name" || {
		echo "$0: $name failed:" >&2; cat "$tmp/err.$name" >&2; exit 1; }
	local u s
	read -r T[$name] M[$name] u s <"$tmp/time.$name"
	C[$name]=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u + s}')
	if [ -n "${bench_server_pid:-}" ]; then
		sleep 0.3 # the backend's exit reaped
		S[$name]=$(awk -v a="$s0" -v b="$(server_ticks "$bench_server_pid")" -v hz="$(getconf CLK_TCK)" \
			'BEGIN{printf "%.2f", (b - a) / hz}')
	fi
	echo "   $name: ${T[$name]} s, $((M[$name] / 1024)) MB" >&2
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mb() { awk -v k="$1" 'BEGIN{ printf "%.1f", k / 1024 }'; }
mbytes() { awk -v b="$1" 'BEGIN{ printf "%.1f", b / 1048576 }'; }

# rss_table FIRST LAST [TITLE [LABEL ARRAY]…] — markdown table of peak RSS (KiB, from the
# associative array named ARRAY, indexed by size) at the two sizes, one row per LABEL.
# Default: Cairn's backups create / restore / verify from RSS_CREATE, RSS_RESTORE, RSS_VERIFY.
rss_table() {
	local first=$1 last=$2 title="Peak RSS of Cairn" a b
	shift 2
	if [ $# -gt 0 ]; then title=$1; shift; fi
	[ $# -gt 0 ] || set -- "backups create" RSS_CREATE "backups restore" RSS_RESTORE \
		"backups verify" RSS_VERIFY
	echo "### $title, ${first} → ${last} flow rows"
	echo
	echo "| command | RSS at $first MB | RSS at $last MB | growth |"
	echo "|---|---:|---:|---:|"
	while [ $# -ge 2 ]; do
		a="$2[$first]" b="$2[$last]"
		echo "| $1 | $(mb "${!a}") | $(mb "${!b}") | ×$(ratio "${!b}" "${!a}") |"
		shift 2
	done
	echo
}

# bench_pg_start DIR PORT — a throwaway PostgreSQL in DIR (tests/peers/postgresql.sh: fsync
# off, the same for every tool) on 127.0.0.1:PORT, and the libpq environment for pg/psql.
bench_pg_start() {
	bench_server_start postgresql "$1" "$2"
	export PGOPTIONS="-c client_min_messages=warning"
	export PGHOST=127.0.0.1 PGPORT=$2 PGUSER=postgres
}
pg() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# bench_pg_schema_db DB — an empty Kestra schema (flyway rows included, no metadata records),
# with the two adjustments README.md explains, made in every database of a run alike.
bench_pg_schema_db() {
	pg -d postgres -c "CREATE DATABASE $1"
	pg -d "$1" -f "$here/tests/fixtures/kestra-postgres.sql"
	# pg_dump/pg_restore run with search_path = '': Kestra's FULLTEXT_INDEX calls
	# FULLTEXT_REPLACE unqualified and COPY into a table whose generated columns use it
	# fails ("function fulltext_replace(text, unknown) does not exist"). Qualify the call,
	# in every database, so that the native restore can work at all (same body otherwise).
	pg -d "$1" -c "CREATE OR REPLACE FUNCTION FULLTEXT_INDEX(text) RETURNS tsvector
	    AS 'SELECT TO_TSVECTOR(''simple'', public.FULLTEXT_REPLACE(\$1, '' '')) || TO_TSVECTOR(''simple'', \$1)'
	    LANGUAGE SQL IMMUTABLE RETURNS NULL ON NULL INPUT"
	if [ "${BENCH_KESTRA_INDEXES:-0}" != 1 ]; then
		pg -d "$1" -c "DROP INDEX flows_source_code"
	fi
}

# bench_pg_source DB N — a Kestra-schema database DB loaded with bench/gen.sql at N flow rows;
# sets $records (rows of the metadata tables) and $rawtext (bytes of their rows as text).
bench_pg_source() {
	local t0 t
	bench_pg_schema_db "$1"
	t0=$(date +%s)
	pg -d "$1" -v n="$2" -f "$here/bench/gen.sql"
	echo "   generated in $(( $(date +%s) - t0 )) s" >&2
	records=$(for t in $bench_tables; do pg -d "$1" -c "SELECT count(*) FROM $t"; done | awk '{s+=$1} END{print s}')
	rawtext=$(for t in $bench_tables; do pg -d "$1" -c "SELECT coalesce(sum(octet_length(x::text)), 0) FROM $t x"; done | awk '{s+=$1} END{print s}')
}

# bench_pg_checksum DB — one line per metadata table: row count and an order-independent
# sum of a hash of every row (every column, generated ones included).
bench_pg_checksum() {
	local t
	for t in $bench_tables; do
		pg -d "$1" -c "SELECT '$t', count(*), coalesce(sum(hashtextextended(x::text, 0)::numeric), 0) FROM $t x"
	done
}
