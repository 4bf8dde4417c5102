#!/bin/sh
# Throwaway Ceph RADOS Gateway (S3) for the tests, on loopback only.
#
#   rgw.sh start DIR PORT   one-node cluster in DIR (mon + memstore OSD, auth
#                           none, no manager) and radosgw (beast) on
#                           127.0.0.1:PORT; user `test`, access key
#                           `cairntest`, secret `cairntestsecret`
#   rgw.sh stop DIR         stop every daemon of DIR by its pid; DIR is removed
#                           by whoever created it, never by this script
#
# Needs the Debian packages ceph-mon ceph-osd radosgw ceph-common (installed
# with apt-get when missing and run as root). The monitor listens on a free
# port the kernel picks (printed into DIR/ceph.conf).
# Virtual-hosted style works for Host `<bucket>.localhost[:PORT]` (`rgw dns name =
# localhost`); such names may not resolve (no nss-myhostname): point them at
# 127.0.0.1 yourself (the s3 plugin's `resolve=` option, curl --resolve).
# CAIRN_RGW_MEMSTORE_BYTES sizes the RAM-backed OSD (default 2 GiB).
# Data lives in RAM (memstore): nothing survives a stop. Never point this at
# anything but a test directory: authentication is off inside the cluster.
set -eu

ACCESS_KEY=cairntest
SECRET_KEY=cairntestsecret

usage() {
	echo "usage: $0 start DIR PORT | stop DIR" >&2
	exit 2
}

need_packages() {
	missing=""
	for p in ceph-mon ceph-osd radosgw ceph-common; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "$0: missing Debian packages:$missing (apt-get install -y --no-install-recommends$missing)" >&2
		exit 1
	fi
	echo "$0: installing$missing" >&2
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
		>/dev/null 2>&1 || {
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
	}
}

# stop_pidfile FILE — TERM the daemon whose pid is in FILE, wait, then KILL.
stop_pidfile() {
	[ -f "$1" ] || return 0
	pid=$(cat "$1" 2>/dev/null || true)
	case "$pid" in '' | *[!0-9]*) return 0 ;; esac
	kill "$pid" 2>/dev/null || return 0
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$1"
}

http_status() { # URL → HTTP status or 000
	python3 - "$1" <<'PY' 2>/dev/null || echo 000
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
PY
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2

case "$cmd" in
start)
	[ $# -eq 3 ] || usage
	port=$3
	case "$port" in '' | *[!0-9]*) usage ;; esac
	monport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	need_packages
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/rgw.pid" ] && kill -0 "$(cat "$dir/rgw.pid")" 2>/dev/null; then
		echo "$0: a gateway already runs in $dir" >&2
		exit 1
	fi
	conf="$dir/ceph.conf"
	fsid=$(cat /proc/sys/kernel/random/uuid)
	mkdir -p "$dir/mon" "$dir/osd" "$dir/run"
	cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$monport
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd objectstore = memstore
memstore device bytes = ${CAIRN_RGW_MEMSTORE_BYTES:-2147483648}
osd crush chooseleaf type = 0
public addr = 127.0.0.1
ms bind ipv6 = false
run dir = $dir/run
log file = $dir/\$name.log
admin socket = $dir/run/\$name.asok
pid file = $dir/\$name.pid
keyring = $dir/keyring
[mon.a]
mon data = $dir/mon
[osd.0]
osd data = $dir/osd
osd journal = $dir/osd/journal
# the OSD is put into the CRUSH map below; left to itself it sends these commands
# at start-up, and the monitor may refuse them ('wrong fsid', EPERM: seen on Ceph
# 16 when they race the OSD's first monmap), which fails the start
osd crush update on start = false
osd class update on start = false
[client.rgw.a]
# virtual-hosted style: http://<bucket>.localhost:PORT/ (a Host of localhost or
# 127.0.0.1 stays path style)
rgw dns name = localhost
CONF
	log="$dir/start.log"
	: >"$log"
	run() { "$@" >>"$log" 2>&1 || { echo "$0: failed: $*; see $log" >&2; tail -n 20 "$log" >&2; exit 1; }; }
	run monmaptool --create --add a "v1:127.0.0.1:$monport" --fsid "$fsid" "$dir/monmap"
	run ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap"
	run ceph-mon -c "$conf" -i a
	# the OSD's uuid, given to both `osd create` and `--mkfs`
	osd_uuid=$(cat /proc/sys/kernel/random/uuid)
	osd=$(ceph -c "$conf" --connect-timeout 30 osd create "$osd_uuid" 2>>"$log") || {
		echo "$0: the monitor does not answer; see $log and $dir/mon.a.log" >&2
		exit 1
	}
	run ceph-osd -c "$conf" -i "$osd" --mkfs --osd-uuid "$osd_uuid"
	run ceph-osd -c "$conf" -i "$osd"
	# a monitor busy with the new OSD's boot may answer a command with EPERM
	# ("problem getting command descriptions"): seen once here; ask again
	mon() {
		local try
		for try in 1 2 3 4 5; do
			ceph -c "$conf" --connect-timeout 30 "$@" >>"$log" 2>&1 && return 0
			sleep 1
		done
		echo "$0: failed: ceph $*; see $log" >&2
		tail -n 20 "$log" >&2
		exit 1
	}
	mon osd crush add-bucket localhost host
	mon osd crush move localhost root=default
	mon osd crush add "osd.$osd" 1.0 host=localhost
	run radosgw -c "$conf" -n client.rgw.a --rgw-frontends="beast endpoint=127.0.0.1:$port"
	i=0
	while [ "$(http_status "http://127.0.0.1:$port/")" != 200 ]; do
		i=$((i + 1))
		if [ $i -gt 120 ]; then
			echo "$0: radosgw does not answer on 127.0.0.1:$port; see $dir/client.rgw.a.log" >&2
			exit 1
		fi
		sleep 0.5
	done
	run radosgw-admin -c "$conf" user create --uid=test --display-name=test \
		--access-key="$ACCESS_KEY" --secret="$SECRET_KEY"
	echo "access key: $ACCESS_KEY"
	echo "secret key: $SECRET_KEY"
	echo "rgw ready on 127.0.0.1:$port"
	;;
stop)
	[ $# -eq 2 ] || usage
	[ -d "$dir" ] || exit 0
	stop_pidfile "$dir/client.rgw.a.pid"
	stop_pidfile "$dir/osd.0.pid"
	stop_pidfile "$dir/mon.a.pid"
	;;
*)
	usage
	;;
esac
