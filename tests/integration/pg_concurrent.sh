#!/usr/bin/env bash
# A backup taken while another connection keeps writing is consistent: a
# writer adds a flow and its trigger in one transaction, over and over; every
# backup must hold exactly as many of those flows as of those triggers.
. "$(dirname "$0")/lib.sh"
need_pg

src=$(new_db src sample)
stop="$WORK/stop"
(
	i=0
	while [ ! -e "$stop" ] && [ $i -lt 4000 ]; do
		i=$((i + 1))
		cat <<SQL
BEGIN;
INSERT INTO flows (key, value, source_code) VALUES ('main_load.ns_f${i}_1',
  '{"id":"f$i","namespace":"load.ns","revision":1,"tenantId":"main","deleted":false}', 'id: f$i');
SELECT pg_sleep(0.002);
INSERT INTO triggers (key, value) VALUES ('main_load.ns_f${i}_t',
  '{"namespace":"load.ns","flowId":"f$i","triggerId":"t","tenantId":"main"}');
COMMIT;
SQL
	done | psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$src" >/dev/null
) &
writer=$!
sleep 0.5
for round in 1 2 3; do
	dst=$(new_db "dst$round")
	u=$(create FULL --source "$(uri "$src")")
	"$CAIRN" backups restore "$u" --source "$(uri "$dst")" --storage "$STORE" >/dev/null 2>&1 || fail "restore $round"
	nf=$(pg "$dst" -c "SELECT count(*) FROM flows WHERE namespace = 'load.ns'")
	nt=$(pg "$dst" -c "SELECT count(*) FROM triggers WHERE namespace = 'load.ns'")
	[ "$nf" = "$nt" ] || fail "round $round: $nf flows but $nt triggers: not one snapshot"
	note "round $round: $nf flow/trigger pairs, consistent"
	sleep 0.3
done
touch "$stop"
wait "$writer" || fail "the writer failed"
[ "$nf" -gt 0 ] || fail "the writer wrote nothing during the backups"
note "ok"
