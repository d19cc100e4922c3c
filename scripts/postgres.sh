#!/usr/bin/env bash
# Installs, starts and stops a throwaway PostgreSQL server (Debian's
# `postgresql` package) for the tests of package postgres.
#
#   eval "$(scripts/postgres.sh start)"  # exports INSTALLVAULT_POSTGRES_URL=postgres://...@127.0.0.1:PORT/installvault
#                                        # and INSTALLVAULT_POSTGRES_PIDFILE (this run's server)
#   scripts/postgres.sh stop             # stops the server of $INSTALLVAULT_POSTGRES_PIDFILE, by its PID,
#                                        # and removes its temporary folder
#
# Each start initdb's a fresh cluster into its own temporary folder (owned by
# the `postgres` user the package creates: PostgreSQL refuses to run as
# root), listening on 127.0.0.1 only, on a free random port, with its Unix
# socket inside that folder. Connections over TCP need the random password in
# the URL (scram-sha-256); the socket is reachable by root and postgres only.
# Concurrent runs never share or stop each other's server. It is a test
# server: fsync is off (as DynamoDB Local runs -inMemory), so a crash of the
# machine loses it, which nothing needs.
set -euo pipefail

pidfile="${INSTALLVAULT_POSTGRES_PIDFILE:-}"
db=installvault

log() { echo "postgres.sh: $*" >&2; }

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install() {
  if [ -z "$(bindir)" ] || [ ! -x "$(bindir)/postgres" ]; then
    command -v apt-get >/dev/null || { log "apt-get is needed to install PostgreSQL (Debian's postgresql package)"; exit 1; }
    log "installing Debian's postgresql package"
    if ! apt-cache show postgresql >/dev/null 2>&1; then
      apt-get update -qq >/dev/null
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  id postgres >/dev/null 2>&1 || { log "the postgres user (created by the postgresql package) is missing"; exit 1; }
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

as_postgres() { su postgres -s /bin/sh -c "$1"; }

start() {
  install
  local bin dir port pw
  bin=$(bindir)
  dir=$(mktemp -d /tmp/installvault-pg.XXXXXX)
  chown postgres: "$dir"
  chmod 700 "$dir"
  pidfile="$dir/server.pid"
  pw=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  (umask 077 && printf '%s\n' "$pw" >"$dir/pwfile")
  chown postgres: "$dir/pwfile"
  if ! as_postgres "'$bin/initdb' -D '$dir/data' -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --pwfile='$dir/pwfile' -E UTF8 --locale=C.UTF-8 >'$dir/initdb.log' 2>&1"; then
    log "initdb failed; its log:"; cat "$dir/initdb.log" >&2
    rm -rf "$dir"; exit 1
  fi
  rm -f "$dir/pwfile"
  # A random start makes two concurrent runs unlikely to race for one port;
  # if another process takes it first, postgres exits and we try the next.
  local first=$((25000 + RANDOM % 5000))
  for port in $(seq "$first" $((first + 50))); do
    port_in_use "$port" && continue
    as_postgres "exec '$bin/postgres' -D '$dir/data' -h 127.0.0.1 -p $port -k '$dir' \
      -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
      >>'$dir/postgres.log' 2>&1" </dev/null >/dev/null 2>&1 &
    local su_pid=$!
    for _ in $(seq 1 120); do
      if [ -s "$dir/data/postmaster.pid" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
        head -n 1 "$dir/data/postmaster.pid" >"$pidfile"
        as_postgres "'$bin/createdb' -h '$dir' -p $port -U postgres $db" || { log "createdb failed"; stop quietly; exit 1; }
        log "listening on 127.0.0.1:$port (pid $(cat "$pidfile"), data in $dir)"
        echo "export INSTALLVAULT_POSTGRES_URL=postgres://postgres:$pw@127.0.0.1:$port/$db"
        echo "export INSTALLVAULT_POSTGRES_PIDFILE=$pidfile"
        return 0
      fi
      kill -0 "$su_pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$su_pid" 2>/dev/null; then break; fi # running but not answering: give up below
  done
  log "did not start; its log:"; cat "$dir/postgres.log" >&2 || true
  [ -s "$dir/data/postmaster.pid" ] && head -n 1 "$dir/data/postmaster.pid" >"$pidfile"
  stop quietly
  exit 1
}

stop() {
  if [ -z "$pidfile" ]; then
    log "INSTALLVAULT_POSTGRES_PIDFILE is not set: nothing started by this shell to stop"
    return 0
  fi
  local dir; dir=$(dirname "$pidfile")
  case "$dir" in
    /tmp/installvault-pg.*) ;;
    *) log "refusing to remove $dir: not a folder this script made"; return 1 ;;
  esac
  if [ -f "$pidfile" ]; then
    local pid; pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -INT "$pid" 2>/dev/null || true # fast shutdown: disconnect clients, stop
      for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
      [ "${1:-}" = quietly ] || log "stopped pid $pid"
    fi
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  install) install ;;
  *) echo "usage: $0 start|stop|install" >&2; exit 2 ;;
esac
