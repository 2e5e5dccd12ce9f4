#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL server for the tuning tests.
#
#   eval "$(.ci/postgres.sh start)"   # exports GBMTL_TEST_POSTGRES_URL and GBMTL_TEST_POSTGRES_DIR
#   .ci/postgres.sh stop              # stops the server in $GBMTL_TEST_POSTGRES_DIR, removes it
#
# Sourcing also works (`source .ci/postgres.sh`), and exports the same variables.
# Installs Debian's postgresql with apt when initdb/pg_ctl are missing (needs root). The server
# listens on 127.0.0.1 on a free port, trusts local connections, keeps its data and socket in a
# temporary directory owned by the postgres user, and runs as that user. Logs go to stderr; stdout
# carries only the export lines.

_gbmtl_pg_log() { echo "postgres.sh: $*" >&2; }

_gbmtl_pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

_gbmtl_pg_as_postgres() {
  if [ "$(id -u)" = "0" ]; then
    if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"
    else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  else
    "$@"
  fi
}

_gbmtl_pg_start() {
  local bindir dir port
  if ! bindir=$(_gbmtl_pg_bindir); then
    if [ "$(id -u)" != "0" ]; then
      _gbmtl_pg_log "initdb/pg_ctl not found and not root: install postgresql first"; return 1
    fi
    _gbmtl_pg_log "installing postgresql with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2 || {
      _gbmtl_pg_log "apt-get install postgresql failed"; return 1; }
    bindir=$(_gbmtl_pg_bindir) || { _gbmtl_pg_log "postgresql installed but initdb not found"; return 1; }
  fi
  if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres >&2 || return 1
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/gbmtl-pg.XXXXXX") || return 1
  chmod 755 "$dir"
  [ "$(id -u)" = "0" ] && chown postgres: "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
         || echo $((20000 + RANDOM % 20000)))
  _gbmtl_pg_log "initdb in $dir/data ($bindir)"
  _gbmtl_pg_as_postgres "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2; _gbmtl_pg_log "initdb failed"; return 1; }
  _gbmtl_pg_as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c max_connections=200" \
    start >&2 || { cat "$dir/server.log" >&2; _gbmtl_pg_log "server did not start"; return 1; }
  _gbmtl_pg_as_postgres "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres gbmtl_test >&2 || {
    _gbmtl_pg_log "createdb failed"; return 1; }
  GBMTL_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/gbmtl_test"
  GBMTL_TEST_POSTGRES_DIR="$dir"
  export GBMTL_TEST_POSTGRES_URL GBMTL_TEST_POSTGRES_DIR
  _gbmtl_pg_log "server up: $GBMTL_TEST_POSTGRES_URL (data in $dir)"
  echo "export GBMTL_TEST_POSTGRES_URL=$GBMTL_TEST_POSTGRES_URL"
  echo "export GBMTL_TEST_POSTGRES_DIR=$GBMTL_TEST_POSTGRES_DIR"
}

_gbmtl_pg_stop() {
  local dir="${1:-$GBMTL_TEST_POSTGRES_DIR}" bindir
  if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then _gbmtl_pg_log "no server directory to stop"; return 0; fi
  bindir=$(_gbmtl_pg_bindir) || return 1
  _gbmtl_pg_as_postgres "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
  rm -rf "$dir"
  _gbmtl_pg_log "stopped and removed $dir"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # sourced: start and export into the caller's shell
  _gbmtl_pg_start >/dev/null
else
  set -u
  case "${1:-start}" in
    start) _gbmtl_pg_start ;;
    stop) _gbmtl_pg_stop "${2:-}" ;;
    *) echo "usage: $0 [start|stop [DIR]]" >&2; exit 2 ;;
  esac
fi
