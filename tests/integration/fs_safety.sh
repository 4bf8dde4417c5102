#!/usr/bin/env bash
# fs storage safety: parallel creates in the same second get distinct -N
# names; a symlinked series directory is refused by every command alike; the
# temporary file a killed backup left (a real kill -9, and crafted ones) is
# removed by the next create and by prune, while one whose writer still holds
# its lock (flock(1)) is kept.
. "$(dirname "$0")/lib.sh"
need_pg

src=$(new_db src sample)
SRC=$(uri "$src")
full="$WORK/store/backups/full"

# ---- 4 creates at once: 4 backups, 4 names, all verify. The creates are
# only likely, not certain, to fall in one second: a round in which none
# shared a second proves nothing, so another round runs (at most 5).
shared=0
for round in 1 2 3 4 5; do
	rm -rf "$WORK/store"
	pids=()
	for i in 1 2 3 4; do
		"$CAIRN" backups create FULL --source "$SRC" --storage "$STORE" --no-progress \
			>"$WORK/par$i.out" 2>"$WORK/par$i.err" &
		pids+=($!)
	done
	for i in 1 2 3 4; do
		wait "${pids[$((i - 1))]}" || { cat "$WORK/par$i.err" >&2; fail "round $round: parallel create $i failed"; }
	done
	names=$(sed -n 's|^Backup created: .*/||p' "$WORK"/par?.out | sort)
	[ "$(sort -u <<<"$names" | wc -l)" = 4 ] || fail "round $round: 4 creates printed names: $names"
	on_disk=$(cd "$full" && ls -A | sort)
	[ "$on_disk" = "$names" ] || fail "round $round: on disk '$on_disk', printed '$names'"
	for n in $names; do
		"$CAIRN" backups verify "cairn:///backups/full/$n" --storage "$STORE" >/dev/null 2>"$WORK/verify.err" ||
			{ cat "$WORK/verify.err" >&2; fail "round $round: $n does not verify"; }
	done
	stamps=$(sed 's/^backup-\([0-9]*\).*/\1/' <<<"$names" | sort | uniq -d | wc -l)
	if [ "$stamps" -gt 0 ]; then
		shared=1
		grep -q -- '-1\.cairn$' <<<"$names" || fail "round $round: same second but no -1 name: $names"
		note "round $round: $(tr '\n' ' ' <<<"$names")"
		break
	fi
done
[ "$shared" = 1 ] || fail "5 rounds of 4 parallel creates never shared a second"

# ---- a symlinked series directory is refused by create, list, prune, delete
S2="$WORK/s2"
mkdir -p "$S2/backups" "$WORK/elsewhere"
ln -s "$WORK/elsewhere" "$S2/backups/full"
expect_fail 6 "$CAIRN" backups create FULL --source "$SRC" --storage "file://$S2" --no-progress
case "$ERR" in *"symbolic link"*) ;; *) fail "create through a symlink: $ERR" ;; esac
[ -z "$(ls -A "$WORK/elsewhere")" ] || fail "create wrote through the symlink: $(ls -A "$WORK/elsewhere")"
one=$(cd "$full" && ls | head -n 1)
cp "$full/$one" "$WORK/elsewhere/$one"
expect_fail 6 "$CAIRN" backups list --storage "file://$S2"
case "$ERR" in *"symbolic link"*) ;; *) fail "list through a symlink: $ERR" ;; esac
expect_fail 6 "$CAIRN" backups prune --keep-last 1 --storage "file://$S2"
case "$ERR" in *"symbolic link"*) ;; *) fail "prune through a symlink: $ERR" ;; esac
expect_fail 6 "$CAIRN" backups delete "cairn:///backups/full/$one" --storage "file://$S2"
case "$ERR" in *"symbolic link"*) ;; *) fail "delete through a symlink: $ERR" ;; esac
# the full URI that create prints for that storage names the same object
expect_fail 6 "$CAIRN" backups delete "file://$S2/backups/full/$one" --storage "file://$S2"
case "$ERR" in *"symbolic link"*) ;; *) fail "delete by full URI through a symlink: $ERR" ;; esac
expect_fail 6 "$CAIRN" backups verify "file://$S2/backups/full/$one" --storage "file://$S2"
[ -e "$WORK/elsewhere/$one" ] || fail "a backup behind the symlink was deleted"
# a symlinked tenant series, and a symlinked 'backups', are refused as well
rm "$S2/backups/full"
mkdir -p "$S2/backups/tenant"
ln -s "$WORK/elsewhere" "$S2/backups/tenant/main"
expect_fail 6 "$CAIRN" backups create TENANT --tenant main --source "$SRC" --storage "file://$S2" --no-progress
expect_fail 6 "$CAIRN" backups list --storage "file://$S2"
rm -r "$S2/backups"
ln -s "$WORK/elsewhere" "$S2/backups"
expect_fail 6 "$CAIRN" backups create FULL --source "$SRC" --storage "file://$S2" --no-progress
[ "$(ls -A "$WORK/elsewhere")" = "$one" ] || fail "create wrote through a symlinked 'backups'"
# the location itself may be a symlink: that is the operator's choice
ln -s "$WORK/store" "$WORK/storelink"
u=$("$CAIRN" backups create FULL --source "$SRC" --storage "file://$WORK/storelink" --no-progress 2>"$WORK/link.err") ||
	{ cat "$WORK/link.err" >&2; fail "create in a symlinked location"; }
n=$(basename "${u#Backup created: }")
[ -f "$full/$n" ] || fail "backup $n not in the symlink's target"
"$CAIRN" backups list --storage "file://$WORK/storelink" | grep -q "$n" || fail "list of a symlinked location"
note "symlinked series: refused alike by create, list, prune and delete"

# ---- leftovers of a killed backup go at the next create; a live one stays
# A backup stuck on a locked table has its temporary open: kill -9 it there.
pg "$src" -c "BEGIN; LOCK TABLE flows IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)" >/dev/null 2>&1 &
locker=$!
until [ "$(pg "$src" -c "SELECT count(*) FROM pg_locks WHERE relation = 'flows'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ]; do
	kill -0 "$locker" 2>/dev/null || fail "the session locking flows ended"
	sleep 0.05
done
"$CAIRN" backups create FULL --source "$SRC" --storage "$STORE" --no-progress >/dev/null 2>&1 &
victim=$!
until ls -A "$full" | grep -q '^\..*\.tmp'; do
	kill -0 "$victim" 2>/dev/null || fail "the backup to kill ended before its temporary file appeared"
	sleep 0.05
done
kill -9 "$victim"
wait "$victim" 2>/dev/null || true
pg "$src" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()" >/dev/null
wait "$locker" 2>/dev/null || true
killed=$(cd "$full" && ls -A | grep '^\..*\.tmp')
note "kill -9 left $killed"
dead="$full/.backup-20200101000000.cairn.tmp"
live="$full/.backup-20200102000000.cairn.tmp"
printf 'CAIRN\0\r\npartial' >"$dead"
printf 'CAIRN\0\r\nbeing written' >"$live"
chmod 600 "$dead" "$live"
flock -x -F "$live" sleep 600 &
holder=$!
trap 'kill "$holder" 2>/dev/null || true; rm -rf "$WORK"' EXIT
# wait until the lock is held
while flock -x -n "$live" true; do
	kill -0 "$holder" 2>/dev/null || fail "flock(1) holding $live ended"
	sleep 0.05
done
before=$(ls "$full" | wc -l)
"$CAIRN" backups create FULL --source "$SRC" --storage "$STORE" --no-progress -v >/dev/null 2>"$WORK/c.err" ||
	{ cat "$WORK/c.err" >&2; fail "create after a killed backup"; }
[ ! -e "$full/$killed" ] || fail "create left the temporary file of the backup killed with -9"
[ ! -e "$dead" ] || fail "create left a killed backup's temporary file"
grep -q "removed '.*$killed'" "$WORK/c.err" || fail "removing $killed was not logged"
[ -e "$live" ] || fail "create removed a temporary file whose writer is alive"
[ "$(ls "$full" | wc -l)" = $((before + 1)) ] || fail "create removed a committed backup"

# prune: the same, in every series
mkdir -p "$WORK/store/backups/tenant/main"
dead2="$WORK/store/backups/tenant/main/.backup-20200101000000.cairn.tmp"
printf 'CAIRN\0\r\npartial' >"$dead2"
cp "$dead2" "$dead"
"$CAIRN" backups prune --keep-last 100 --storage "$STORE" >/dev/null 2>"$WORK/p.err" ||
	{ cat "$WORK/p.err" >&2; fail "prune"; }
[ ! -e "$dead" ] || fail "prune left a killed backup's temporary file (full)"
[ ! -e "$dead2" ] || fail "prune left a killed backup's temporary file (tenant)"
[ -e "$live" ] || fail "prune removed a temporary file whose writer is alive"
[ "$(ls "$full" | wc -l)" = $((before + 1)) ] || fail "prune --keep-last 100 removed a backup"
# once its writer is gone, the next prune takes it
kill "$holder"
wait "$holder" 2>/dev/null || true
"$CAIRN" backups prune --keep-last 100 --storage "$STORE" >/dev/null 2>"$WORK/p.err" ||
	{ cat "$WORK/p.err" >&2; fail "prune after the writer died"; }
[ ! -e "$live" ] || fail "prune left the temporary file of a writer that died"
grep -q 'AddressSanitizer\|runtime error' "$WORK"/*.err && fail "sanitizer report"
note "ok"
