# Shared by the benchmark scripts (sourced, bash): the Release build, timing
# with peak RSS, number formatting, and the RSS-growth table.

# bench_build HERE — Release build into HERE/build-bench; sets $cairn and the plugin path.
bench_build() {
	echo "== building Cairn (Release) into build-bench/" >&2
	cmake -S "$1" -B "$1/build-bench" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
	cmake --build "$1/build-bench" -j"$(nproc)" >/dev/null
	cairn="$1/build-bench/core/cairn"
	export CAIRN_PLUGIN_PATH="$1/build-bench/plugins" CAIRN_CONFIG=/dev/null
}

# measure NAME CMD… — run CMD under /usr/bin/time; T[NAME] wall s, M[NAME] peak RSS KiB,
# C[NAME] CPU s (user + system); output in $tmp/out.NAME, stderr in $tmp/err.NAME.
measure() {
	local name=$1; shift
	/usr/bin/time -f '%e %M %U %S' -o "$tmp/time.$name" "$@" >"$tmp/out.$name" 2>"$tmp/err.$name" || {
		echo "$0: $name failed:" >&2; cat "$tmp/err.$name" >&2; exit 1; }
	local u s
	read -r T[$name] M[$name] u s <"$tmp/time.$name"
	C[$name]=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u + s}')
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
