#!/bin/sh
# Throwaway MariaDB server for the tests, on loopback only.
#
#   mariadb.sh start DIR PORT [durable]   create a data directory in DIR (if needed) and start it
#   mariadb.sh stop DIR                   stop it (nothing to do if it is not running)
#
# By default the server trades durability for speed, as tests may
# (innodb_flush_log_at_trx_commit=0, no binary log). `durable` runs it as an
# operator would for data that matters (benchmarks): the redo log flushed at
# every commit, the binary log on (ROW events of every write, as replicas
# and point-in-time recovery need) and synced at every commit
# (sync_binlog=1), and the server's default redo log size (96 MiB).
#
# The distribution's own server (the mariadb-server package's service) is never
# used or touched: --no-defaults keeps /etc/mysql out of it. When run as root the
# server runs as the `mysql` user and DIR is handed to that user. `root` has an
# empty password over TCP: never point this at anything but a test directory.
set -eu

usage() {
	echo "usage: $0 start DIR PORT [durable] | stop DIR" >&2
	exit 2
}

find_prog() { # first of the names found in PATH or /usr/sbin, /usr/bin
	for n in "$@"; do
		for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
			if [ -x "$d/$n" ]; then
				echo "$d/$n"
				return 0
			fi
		done
		if command -v "$n" >/dev/null 2>&1; then
			command -v "$n"
			return 0
		fi
	done
	echo "$0: $1 not found (Debian: apt-get install mariadb-server)" >&2
	exit 1
}

ping_server() { # ping_server PORT
	"$admin" --no-defaults --protocol=TCP -h 127.0.0.1 -P "$1" -u root \
		--connect-timeout=2 ping >/dev/null 2>&1
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2

case "$cmd" in
start)
	[ $# -eq 3 ] || { [ $# -eq 4 ] && [ "$4" = durable ]; } || usage
	port=$3
	case "$port" in '' | *[!0-9]*) usage ;; esac
	server=$(find_prog mariadbd mysqld)
	installdb=$(find_prog mariadb-install-db mysql_install_db)
	admin=$(find_prog mariadb-admin mysqladmin)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	# the durability settings become the positional parameters, quoted as "$@" below
	if [ "${4:-}" = durable ]; then
		set -- --innodb-flush-log-at-trx-commit=1 "--log-bin=$dir/binlog" --server-id=1 \
			--binlog-format=ROW --sync-binlog=1
	else
		set -- --innodb-log-file-size=48M --innodb-flush-log-at-trx-commit=0
	fi
	userarg=""
	if [ "$(id -u)" -eq 0 ]; then
		if ! id mysql >/dev/null 2>&1; then
			echo "$0: running as root needs a 'mysql' user" >&2
			exit 1
		fi
		chown mysql: "$dir"
		chmod 700 "$dir"
		if ! runuser -u mysql -- test -w "$dir"; then
			echo "$0: user 'mysql' cannot reach $dir (a parent directory is not" \
				"searchable by others); use a directory such as /tmp/NAME" >&2
			exit 1
		fi
		userarg="--user=mysql"
	fi
	data="$dir/data"
	pidfile="$dir/mariadb.pid"
	if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		if ping_server "$port"; then
			echo "mariadb ready on 127.0.0.1:$port"
			exit 0
		fi
		echo "$0: a server already runs in $dir, but not on port $port" >&2
		exit 1
	fi
	if [ ! -d "$data/mysql" ]; then
		# shellcheck disable=SC2086
		"$installdb" --no-defaults $userarg --datadir="$data" --skip-test-db \
			--auth-root-authentication-method=normal >"$dir/install-db.log" 2>&1 || {
			echo "$0: mariadb-install-db failed, see $dir/install-db.log" >&2
			tail -n 20 "$dir/install-db.log" >&2
			exit 1
		}
	fi
	# Started in the background, detached from the caller's stdout so that
	# $(mariadb.sh start …) returns. innodb settings keep it quick and small.
	# shellcheck disable=SC2086
	"$server" --no-defaults $userarg --datadir="$data" --socket="$dir/mysql.sock" \
		--port="$port" --bind-address=127.0.0.1 --pid-file="$pidfile" \
		--skip-name-resolve --character-set-server=utf8mb4 \
		--collation-server=utf8mb4_unicode_ci --innodb-buffer-pool-size=64M \
		"$@" --log-error="$dir/server.log" </dev/null >/dev/null 2>&1 &
	i=0
	while ! ping_server "$port"; do
		i=$((i + 1))
		if [ "$i" -ge 120 ] || { [ "$i" -gt 5 ] && ! kill -0 $! 2>/dev/null; }; then
			echo "$0: MariaDB did not start, see $dir/server.log" >&2
			tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
			exit 1
		fi
		sleep 0.5
	done
	echo "mariadb ready on 127.0.0.1:$port"
	;;
stop)
	[ $# -eq 2 ] || usage
	pidfile="$dir/mariadb.pid"
	[ -f "$pidfile" ] || exit 0
	pid=$(cat "$pidfile")
	case "$pid" in '' | *[!0-9]*) exit 0 ;; esac
	kill -0 "$pid" 2>/dev/null || exit 0
	kill -TERM "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -ge 120 ]; then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.5
	done
	;;
*)
	usage
	;;
esac
