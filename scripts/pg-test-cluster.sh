#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and benchmarks, listening on 127.0.0.1 only.
# Idempotent: installs Debian's `postgresql` if its binaries are missing (needs root and apt),
# creates the cluster on first use, starts it if stopped, creates the role and database, and
# prints the connection URI on stdout (everything else goes to stderr):
#
#   export SMP_TEST_PG_URI=$(scripts/pg-test-cluster.sh)
#   scripts/pg-test-cluster.sh stop      # stop it (the data directory stays)
#
# The cluster runs with fsync=off: it is a scratch database for tests (the server's kill -9
# test kills the server, not PostgreSQL). Never point it at data you want to keep.
# Environment: SMP_PG_DIR (default /tmp/smp-pg-test), SMP_PG_PORT (default 55432).
set -euo pipefail

DIR=${SMP_PG_DIR:-/tmp/smp-pg-test}
PORT=${SMP_PG_PORT:-55432}
ROLE=smp_test
PASSWORD=smp_test
DB=smp_test

log() { printf '%s\n' "$*" >&2; }

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

BIN=$(pg_bin || true)
if [ -z "$BIN" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing postgresql (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    BIN=$(pg_bin)
  else
    log "no PostgreSQL binaries (initdb) found; install Debian's postgresql package"
    exit 1
  fi
fi

# PostgreSQL refuses to run as root: run its tools as the postgres user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = stop ]; then
  [ -f "$DIR/data/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >&2
  exit 0
fi

if [ ! -f "$DIR/data/PG_VERSION" ]; then
  log "creating a test cluster in $DIR/data"
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  pwfile=$(mktemp)
  echo postgres >"$pwfile"
  [ "$(id -u)" = 0 ] && chown postgres: "$pwfile"
  as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$pwfile" -E UTF8 --locale=C >/dev/null
  rm -f "$pwfile"
  cat >>"$DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
fsync = off
full_page_writes = off
max_connections = 200
EOF
fi

if ! as_pg "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
  log "starting the test cluster on 127.0.0.1:$PORT"
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >&2 || {
    log "PostgreSQL did not start; its log:"
    tail -n 30 "$DIR/server.log" >&2 || true
    exit 1
  }
fi

port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$DIR/data/postgresql.conf" | tail -1)
psql_su() { as_pg "$BIN/psql" -h "$DIR" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ "$(psql_su -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
  psql_su -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'"
fi
if [ "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  psql_su -c "CREATE DATABASE $DB OWNER $ROLE"
fi
echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:$port/$DB"
