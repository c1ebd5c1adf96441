#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the catalog tests.
#
#   deploy/postgres/pg.sh start   installs PostgreSQL from Debian's packages if absent (as root: apt-get install -y
#                                 postgresql), creates a cluster in a fresh temp dir, starts it on a free loopback
#                                 port and prints two lines:
#                                   CATALOG_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:<port>/postgres
#                                   PGDATA_DIR=<dir>
#   deploy/postgres/pg.sh stop DIR   stops that cluster and removes DIR.
#
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user (created by the Debian
# package, or here). Trust auth on 127.0.0.1 only; fsync off: this is for tests, never for data you keep.
set -euo pipefail

log() { echo "pg.sh: $*" >&2; }

find_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && { echo "$dir"; return 0; }
  done
  if command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then
    pg_config --bindir; return 0
  fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return 0; fi
  return 1
}

install_postgres() {
  if [[ $(id -u) -ne 0 ]]; then
    log "PostgreSQL is not installed and this is not root: run 'sudo apt-get install -y postgresql'"
    log "or set CATALOG_TEST_POSTGRES_URL to an existing database"
    exit 1
  fi
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends postgresql >&2
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local bindir dir port
  bindir=$(find_bindir) || { install_postgres; bindir=$(find_bindir) || { log "no initdb after install"; exit 1; }; }
  if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/catalog-pg.XXXXXX")
  chmod 755 "$dir"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # Chosen just before the server binds it: initdb takes seconds, in which another process could take a port chosen
  # earlier (the test workers start servers on free ports all the time).
  port=$(free_port)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >&2 || { cat "$dir/server.log" >&2; exit 1; }
  echo "CATALOG_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  echo "PGDATA_DIR=$dir"
}

stop() {
  local dir=${1:?usage: pg.sh stop DIR} bindir
  bindir=$(find_bindir) || exit 0
  [[ -d "$dir/data" ]] && as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
  rm -rf -- "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
