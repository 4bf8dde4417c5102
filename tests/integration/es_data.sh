#!/usr/bin/env bash
# Execution data through Elasticsearch: a PostgreSQL backup --include-data
# restores into Elasticsearch (the data indices created with their date
# field mapped), an Elasticsearch backup --since keeps only what started or
# was logged from then on, and a backup without --since restores into
# PostgreSQL with every execution, log and metric row equal.
. "$(dirname "$0")/lib.sh"
need_pg
need_es
case ",${ASAN_OPTIONS:-}," in *intercept_tls_get_addr*) ;; *)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}intercept_tls_get_addr=0" ;; esac
P="ed$$_"
cleanup() {
	curl -s -o /dev/null -X DELETE "http://127.0.0.1:$ESPORT/$P*" || true
	rm -rf "$WORK"
}
trap cleanup EXIT
data_digest() {
	local sql="" t
	for t in executions logs metrics; do
		[ -n "$sql" ] && sql+=" UNION ALL "
		sql+="SELECT '$t', count(*)::text || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY key), '')) FROM $t x"
	done
	pg "$1" -c "$sql"
}

src=$(new_db src sample)
u=$(create FULL --source "$(uri "$src")" --include-data)
"$CAIRN" backups restore "$u" --source "$(esuri)" --source-option index_prefix=$P --storage "$STORE" \
	>/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "restore with data into Elasticsearch"; }
es GET "/${P}executions/_mapping" | python3 -c '
import json, sys
m = json.load(sys.stdin)
props = next(iter(m.values()))["mappings"]["properties"]
assert props["state"]["properties"]["startDate"]["type"] == "date", props' || fail "executions created without its date field"
es GET "/${P}logs/_mapping" | grep -q '"timestamp":{"type":"date"}' || fail "logs created without its date field"

# --since: executions by state.startDate, logs and metrics by timestamp
s=$(create FULL --source "$(esuri)" --source-option index_prefix=$P --include-data --since 2025-10-01T05:00:00Z)
grep -q 'EXECUTION: 1, .*LOG: 1, METRIC: 1,' "$WORK/create.err" || { cat "$WORK/create.err"; fail "--since summary"; }
grep -q "FLOW: $(pg "$src" -c 'SELECT count(*) FROM flows')," "$WORK/create.err" || fail "--since limited the metadata too"
"$CAIRN" backups info "$s" --storage "$STORE" | grep -q '^data since: *2025-10-01 05:00:00 UTC' || fail "info does not show the window"
s=$(create FULL --source "$(esuri)" --source-option index_prefix=$P --include-data --since 2025-10-01)
grep -q 'EXECUTION: 2, .*LOG: 1, METRIC: 2,' "$WORK/create.err" || { cat "$WORK/create.err"; fail "--since a day before"; }
note "--since on Elasticsearch: a range on each kind's date field"

# without --since, back into PostgreSQL: every execution, log and metric equal
a=$(create FULL --source "$(esuri)" --source-option index_prefix=$P --include-data)
back=$(new_db back)
"$CAIRN" backups restore "$a" --source "$(uri "$back")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "restore of the Elasticsearch backup into PostgreSQL"; }
[ "$(data_digest "$src")" = "$(data_digest "$back")" ] || { data_digest "$src"; data_digest "$back"; fail "execution data differs after PG → ES → PG"; }
note "PG → ES → PG with execution data: every row equal"
