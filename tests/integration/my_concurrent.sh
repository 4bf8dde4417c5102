#!/usr/bin/env bash
# MariaDB: a backup taken while another connection keeps writing is
# consistent. A writer adds a flow and its trigger in one transaction, over
# and over (a short sleep between the two inserts); each of three FULL
# backups, restored into an empty database, must hold exactly as many of
# those flows as of those triggers. Cairn reads flows, then eleven other
# kinds, then triggers: without one read view for the whole backup, the
# triggers committed in between would outnumber the flows.
. "$(dirname "$0")/lib.sh"
need_my
# See my_roundtrip.sh: GCC 12's LeakSanitizer and the TLS of an unused libpq.
case ",${ASAN_OPTIONS:-}," in *intercept_tls_get_addr*) ;; *)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}intercept_tls_get_addr=0" ;; esac

src=$(new_my_db src sample)
# more rows between the flows and the triggers read: a longer window for a
# torn (non-snapshot) read to show
my "$src" "INSERT INTO settings (\`key\`, \`value\`) SELECT CONCAT('pad.', seq),
	JSON_OBJECT('key', CONCAT('pad.', seq), 'value', REPEAT('x', 200)) FROM seq_1_to_3000"
stop="$WORK/stop"
(
	i=0
	while [ ! -e "$stop" ] && [ $i -lt 6000 ]; do
		i=$((i + 1))
		cat <<SQL
START TRANSACTION;
INSERT INTO flows (\`key\`, \`value\`, source_code) VALUES ('main_load.ns_f${i}_1',
  '{"id":"f$i","namespace":"load.ns","revision":1,"tenantId":"main","deleted":false}', 'id: f$i');
DO SLEEP(0.002);
INSERT INTO triggers (\`key\`, \`value\`) VALUES ('main_load.ns_f${i}_t',
  '{"namespace":"load.ns","flowId":"f$i","triggerId":"t","tenantId":"main"}');
COMMIT;
SQL
	done | mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MYPORT" -u root "$src"
) &
writer=$!
sleep 0.5
for round in 1 2 3; do
	dst=$(new_my_db "dst$round")
	before=$(my "$src" "SELECT COUNT(*) FROM flows WHERE namespace = 'load.ns'")
	u=$(create FULL --source "$(myuri "$src")")
	after=$(my "$src" "SELECT COUNT(*) FROM flows WHERE namespace = 'load.ns'")
	"$CAIRN" backups restore "$u" --source "$(myuri "$dst")" --storage "$STORE" >/dev/null 2>"$WORK/err" ||
		{ cat "$WORK/err" >&2; fail "restore $round"; }
	nf=$(my "$dst" "SELECT COUNT(*) FROM flows WHERE namespace = 'load.ns'")
	nt=$(my "$dst" "SELECT COUNT(*) FROM triggers WHERE namespace = 'load.ns'")
	[ "$nf" = "$nt" ] || fail "round $round: $nf flows but $nt triggers: not one snapshot"
	# and they are the very pairs: every trigger has its flow
	orphans=$(my "$dst" "SELECT COUNT(*) FROM triggers t LEFT JOIN flows f
		ON f.\`key\` = CONCAT('main_load.ns_', t.flow_id, '_1') WHERE t.namespace = 'load.ns' AND f.\`key\` IS NULL")
	[ "$orphans" = 0 ] || fail "round $round: $orphans triggers without their flow"
	[ "$after" -gt "$before" ] || fail "round $round: the writer committed nothing during the backup ($before → $after)"
	note "round $round: $nf flow/trigger pairs, consistent (the writer went $before → $after during the backup)"
	sleep 0.3
done
touch "$stop"
wait "$writer" || fail "the writer failed"
[ "$nf" -gt 0 ] || fail "the writer wrote nothing before the backups"
note "ok"
