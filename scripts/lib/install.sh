# shellcheck shell=bash
# Installs what a fresh Debian machine lacks to develop and test pgtenant.
# Sourced by scripts/dev and scripts/test; every function returns non-zero,
# after saying what to do, when it cannot provide what it is asked for.
# The Go binaries install nothing: this file is the one place that does.

# pg_bin prints the folder of the PostgreSQL server programs (initdb, pg_ctl
# and postgres) the Go code would use (internal/devdb): that of pg_ctl on
# PATH, else the highest version's in /usr/lib/postgresql/*/bin. It fails
# when there is none.
pg_bin() {
	local p d best='' bestv=-1 v
	if p=$(command -v pg_ctl) && d=$(dirname "$(readlink -f "$p")") &&
		[ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
		echo "$d"
		return 0
	fi
	for d in /usr/lib/postgresql/*/bin; do
		if ! { [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; }; then
			continue
		fi
		v=$(basename "$(dirname "$d")")
		v=${v%%.*}
		[[ $v =~ ^[0-9]+$ ]] || v=0
		if [ "$v" -gt "$bestv" ]; then
			best=$d
			bestv=$v
		fi
	done
	[ -n "$best" ] && echo "$best"
}

# apt_install installs Debian packages, quietly, without recommended ones.
apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# can_apt reports whether apt_install may work: root on a machine with
# apt-get.
can_apt() {
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null
}

# need_postgres makes sure the machine has the PostgreSQL server programs
# and, when running as root (which PostgreSQL refuses), the system user
# postgres that internal/devdb runs them as. As root with apt-get it
# installs Debian's postgresql package (which also creates the user) and
# creates the user with useradd when the programs came from elsewhere.
need_postgres() {
	local bin
	if ! bin=$(pg_bin); then
		if ! can_apt; then
			echo "$0: no PostgreSQL server programs (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin:" >&2
			echo "    install them (Debian: run this as root, or 'sudo apt-get install postgresql'), or set DATABASE_URL" >&2
			return 1
		fi
		echo "$0: installing PostgreSQL (apt-get install postgresql)" >&2
		apt_install postgresql
		bin=$(pg_bin) || {
			echo "$0: apt-get installed postgresql, but its server programs are still missing" >&2
			return 1
		}
		echo "$0: PostgreSQL installed in $bin" >&2
	fi
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "$0: creating the system user postgres (PostgreSQL does not run as root)" >&2
		useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
			--shell /bin/sh postgres
	fi
}

# need_cc makes sure go test -race has its C compiler (cgo), installing gcc
# as root with apt-get when it is missing.
need_cc() {
	local cc
	cc=$(go env CC)
	command -v "$cc" >/dev/null 2>&1 && return 0
	if ! can_apt; then
		echo "$0: go test -race needs a C compiler ($cc); install gcc" >&2
		return 1
	fi
	echo "$0: installing gcc for the race detector" >&2
	apt_install gcc libc6-dev
}

# server_answers reports whether something accepts TCP connections at the
# host and port of the PostgreSQL URL $1 (default port 5432), within two
# seconds. It says nothing of the server behind it; internal/devdb checks
# that with a real connection.
server_answers() {
	local hp=${1#*://}
	hp=${hp##*@}
	hp=${hp%%/*}
	hp=${hp%%\?*}
	local host=${hp%:*} port=${hp##*:}
	[ "$host" != "$hp" ] || port=5432
	host=${host#[}
	host=${host%]}
	[ -n "$host" ] || return 1
	# shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
}
