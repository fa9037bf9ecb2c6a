#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL server on loopback, then
# stops the server and removes its files, however the command ends.
#
#   scripts/with-postgres.sh COMMAND [ARGS...]
#
# The command sees EDGEAUTH_TEST_POSTGRES_URL (the server's admin URL,
# postgres://postgres@127.0.0.1:PORT/postgres, trust authentication: the
# server listens on 127.0.0.1 only and lives as long as the command).
# Installs Debian's `postgresql` when no PostgreSQL server is on the
# machine. initdb refuses to run as root, so as root the server runs as
# the `postgres` user (the package creates it).
set -euo pipefail

find_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/initdb" ] && { echo "$dir"; return; }
  done
  command -v initdb >/dev/null && dirname "$(command -v initdb)"
}

PGBIN="$(find_bin || true)"
if [ -z "$PGBIN" ]; then
  echo "with-postgres: installing PostgreSQL (Debian's postgresql)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  PGBIN="$(find_bin)"
fi

dir="$(mktemp -d /tmp/edgeauth-pg.XXXXXX)"
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

stop() {
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
# Enough connections for several server instances with their pools. For
# tests, no fsync (a crash of the machine loses only the test database;
# the tests kill server instances, never PostgreSQL); benchmarks set
# EDGEAUTH_PG_DURABLE=1 to keep PostgreSQL's durable defaults.
options="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300"
if [ "${EDGEAUTH_PG_DURABLE:-0}" != 1 ]; then
  options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "$options" start >/dev/null
echo "with-postgres: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2

export EDGEAUTH_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
status=0
"$@" || status=$?
exit "$status"
