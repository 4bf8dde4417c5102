# Shared by the benchmark scripts (sourced, bash): the Release build, timing
# with peak RSS, number formatting, and the RSS-growth table.

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

# rss_table FIRST LAST — markdown table of Cairn's peak RSS at the two sizes,
# from the RSS_CREATE / RSS_RESTORE / RSS_VERIFY arrays.
rss_table() {
	local first=$1 last=$2 c a b
	echo "### Peak RSS of Cairn, ${first} → ${last} flow rows"
	echo
	echo "| command | RSS at $first MB | RSS at $last MB | growth |"
	echo "|---|---:|---:|---:|"
	for c in create restore verify; do
		case $c in create) a=${RSS_CREATE[$first]} b=${RSS_CREATE[$last]} ;;
			restore) a=${RSS_RESTORE[$first]} b=${RSS_RESTORE[$last]} ;;
			verify) a=${RSS_VERIFY[$first]} b=${RSS_VERIFY[$last]} ;; esac
		echo "| backups $c | $(mb "$a") | $(mb "$b") | ×$(ratio "$b" "$a") |"
	done
	echo
}
