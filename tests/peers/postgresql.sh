#!/bin/sh
# Throwaway PostgreSQL server for the tests, on loopback only.
#
#   postgresql.sh start DIR PORT [--durable]
#                                  create a cluster in DIR (if needed) and start it
#   postgresql.sh stop DIR         stop it (nothing to do if it is not running)
#
# The tests run with fsync, synchronous_commit and full_page_writes off:
# nothing they write needs to survive a crash, and they are quicker. With
# --durable those stay at PostgreSQL's defaults (on), as an operator runs a
# server: bench/run.sh measures with it.
#
# The distribution's own cluster is never used or touched. When run as root,
# the server runs as the `postgres` user (the server refuses to run as root)
# and DIR is handed to that user. Authentication is `trust` for the
# `postgres` superuser: never point this at anything but a test directory.
set -eu

usage() {
	echo "usage: $0 start DIR PORT [--durable] | stop DIR" >&2
	exit 2
}

# Newest installed server version, e.g. /usr/lib/postgresql/15/bin.
find_bindir() {
	best=""
	for d in /usr/lib/postgresql/*/bin; do
		if [ ! -x "$d/initdb" ] || [ ! -x "$d/pg_ctl" ]; then
			continue
		fi
		v=$(basename "$(dirname "$d")")
		case "$v" in *[!0-9.]*) continue ;; esac
		if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best" "$v" | sort -V | tail -n1)" = "$v" ]; then
			best=$v
		fi
	done
	if [ -z "$best" ]; then
		if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
			dirname "$(command -v pg_ctl)"
			return 0
		fi
		echo "$0: no PostgreSQL server found (Debian: apt-get install postgresql)" >&2
		exit 1
	fi
	echo "/usr/lib/postgresql/$best/bin"
}

# Run a command as the server's owner.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2

case "$cmd" in
start)
	[ $# -eq 3 ] || { [ $# -eq 4 ] && [ "$4" = --durable ]; } || usage
	port=$3
	durable=${4:-}
	case "$port" in '' | *[!0-9]*) usage ;; esac
	bindir=$(find_bindir)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" -eq 0 ]; then
		if ! id postgres >/dev/null 2>&1; then
			echo "$0: running as root needs a 'postgres' user" >&2
			exit 1
		fi
		chown postgres: "$dir"
		chmod 700 "$dir"
		# mktemp -d makes 0700 directories: the server's user must reach DIR.
		if ! runuser -u postgres -- test -w "$dir"; then
			echo "$0: user 'postgres' cannot reach $dir (a parent directory is not" \
				"searchable by others); use a directory such as /tmp/NAME" >&2
			exit 1
		fi
	fi
	data="$dir/data"
	if [ ! -f "$data/PG_VERSION" ]; then
		as_owner "$bindir/initdb" -D "$data" -A trust -U postgres -E UTF8 \
			--locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
			as_owner "$bindir/initdb" -D "$data" -A trust -U postgres -E UTF8 \
				--locale=C >"$dir/initdb.log" 2>&1 || {
			echo "$0: initdb failed, see $dir/initdb.log" >&2
			tail -n 20 "$dir/initdb.log" >&2
			exit 1
		}
	fi
	if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		# Already running: fine if on the requested port (line 4 of postmaster.pid).
		running=$(sed -n 4p "$data/postmaster.pid" 2>/dev/null || true)
		if [ "$running" != "$port" ]; then
			echo "$0: a server already runs in $dir on port ${running:-?}, not $port" >&2
			exit 1
		fi
		echo "postgresql ready on 127.0.0.1:$port"
		exit 0
	fi
	opts="-c listen_addresses=127.0.0.1 -p $port -k $dir"
	if [ -z "$durable" ]; then
		opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	fi
	if ! as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
		-o "$opts" start >/dev/null 2>&1; then
		echo "$0: PostgreSQL did not start, see $dir/server.log" >&2
		tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
		exit 1
	fi
	echo "postgresql ready on 127.0.0.1:$port"
	;;
stop)
	[ $# -eq 2 ] || usage
	data="$dir/data"
	[ -f "$data/postmaster.pid" ] || exit 0
	bindir=$(find_bindir)
	if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
	fi
	;;
*)
	usage
	;;
esac
