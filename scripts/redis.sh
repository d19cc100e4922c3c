#!/usr/bin/env bash
# Installs (Debian's redis-server package), starts and stops the Redis servers
# the tests of package redisstore need: one standalone server and a Cluster of
# three masters, all on 127.0.0.1 on random free ports.
#
#   eval "$(scripts/redis.sh start)"  # exports INSTALLVAULT_REDIS_ADDR=127.0.0.1:PORT,
#                                     # INSTALLVAULT_REDIS_CLUSTER_ADDRS=127.0.0.1:A,127.0.0.1:B,127.0.0.1:C,
#                                     # INSTALLVAULT_REDIS_SERVER (the redis-server binary, for
#                                     # tests that start and kill their own server) and
#                                     # INSTALLVAULT_REDIS_RUNDIR (this run's servers)
#   scripts/redis.sh stop             # stops the servers of $INSTALLVAULT_REDIS_RUNDIR, by PID,
#                                     # and removes their data
#
# Each start has its own run directory (data, logs, pid files) under .cache/
# (git-ignored), so concurrent runs never stop each other's servers. The
# servers keep an append-only file (appendonly yes, no RDB snapshots) and
# listen on 127.0.0.1 only.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/redis"
rundir="${INSTALLVAULT_REDIS_RUNDIR:-}"

log() { echo "redis: $*" >&2; }

install() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
  log "installing Debian's redis-server package"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y -qq redis-server >/dev/null 2>&1; then
    $sudo apt-get update -qq >/dev/null 2>&1 || true
    $sudo apt-get install -y -qq redis-server >/dev/null 2>&1 || { log "apt-get install redis-server failed"; exit 1; }
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_ports N: N free ports whose cluster bus ports (port+10000) are free too,
# all below Linux's ephemeral range (32768 and up), where the local end of any
# outgoing connection could take a bus port between the check and the bind.
free_ports() {
  local want=$1 found=() port
  local first=$((12000 + RANDOM % 8000))
  for port in $(seq "$first" $((first + 400))); do
    port_in_use "$port" || port_in_use $((port + 10000)) || found+=("$port")
    [ "${#found[@]}" -ge "$want" ] && break
  done
  [ "${#found[@]}" -ge "$want" ] || { log "no free ports near $first"; exit 1; }
  echo "${found[@]}"
}

# serve NAME PORT [redis-server options]: starts one server in $rundir/NAME.
serve() {
  local name=$1 port=$2; shift 2
  mkdir -p "$rundir/$name"
  redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --daemonize no \
    --dir "$rundir/$name" --appendonly yes --save "" --logfile "$rundir/$name/redis.log" "$@" \
    >/dev/null 2>&1 &
  echo $! >"$rundir/$name.pid"
}

wait_ping() {
  local name=$1 port=$2
  for _ in $(seq 1 80); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0
    kill -0 "$(cat "$rundir/$name.pid")" 2>/dev/null || break
    sleep 0.25
  done
  log "$name did not start; its log:"; cat "$rundir/$name/redis.log" >&2 || true
  return 1
}

start() {
  install
  mkdir -p "$cache"
  rundir=$(mktemp -d "$cache/run.XXXXXX")
  local ports single a b c
  read -r -a ports <<<"$(free_ports 4)"
  single=${ports[0]} a=${ports[1]} b=${ports[2]} c=${ports[3]}
  serve single "$single"
  for p in "$a" "$b" "$c"; do
    serve "cluster-$p" "$p" --cluster-enabled yes --cluster-config-file "$rundir/cluster-$p/nodes.conf" \
      --cluster-node-timeout 5000
  done
  local ok=1
  wait_ping single "$single" || ok=0
  for p in "$a" "$b" "$c"; do wait_ping "cluster-$p" "$p" || ok=0; done
  if [ "$ok" = 1 ] && ! redis-cli --cluster create "127.0.0.1:$a" "127.0.0.1:$b" "127.0.0.1:$c" \
    --cluster-replicas 0 --cluster-yes >"$rundir/cluster-create.log" 2>&1; then
    log "redis-cli --cluster create failed:"; cat "$rundir/cluster-create.log" >&2; ok=0
  fi
  if [ "$ok" = 1 ]; then
    ok=0
    for _ in $(seq 1 80); do
      local n=0
      for p in "$a" "$b" "$c"; do
        redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && n=$((n + 1))
      done
      [ "$n" = 3 ] && { ok=1; break; }
      sleep 0.25
    done
    [ "$ok" = 1 ] || log "the cluster did not reach cluster_state:ok"
  fi
  if [ "$ok" != 1 ]; then
    stop quietly
    exit 1
  fi
  log "standalone on 127.0.0.1:$single, cluster on 127.0.0.1:$a,$b,$c (run dir $rundir)"
  echo "export INSTALLVAULT_REDIS_ADDR=127.0.0.1:$single"
  echo "export INSTALLVAULT_REDIS_CLUSTER_ADDRS=127.0.0.1:$a,127.0.0.1:$b,127.0.0.1:$c"
  echo "export INSTALLVAULT_REDIS_SERVER=$(command -v redis-server)"
  echo "export INSTALLVAULT_REDIS_RUNDIR=$rundir"
}

stop() {
  if [ -z "$rundir" ]; then
    log "INSTALLVAULT_REDIS_RUNDIR is not set: nothing started by this shell to stop"
    return 0
  fi
  [ -d "$rundir" ] || return 0
  local pidfile pid
  for pidfile in "$rundir"/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
      [ "${1:-}" = quietly ] || log "stopped pid $pid"
    fi
  done
  rm -rf "$rundir"
}

case "${1:-}" in
  start) for attempt in 1 2 3; do (start) && exit 0; log "start failed (attempt $attempt of 3)"; done; exit 1 ;;
  stop) stop ;;
  install) install ;;
  *) echo "usage: $0 start|stop|install" >&2; exit 2 ;;
esac
