#!/usr/bin/env bash
# The whole test suite, as README's test command (make test) runs it on a
# fresh machine: fetch modules, install and start the servers the tests need
# (DynamoDB Local, PostgreSQL, Redis and a Redis Cluster, Chromium), vet,
# test with the race detector, stop what was started. It prints one line a
# step and go test's package lines; what the package managers and servers
# print goes to a log, shown only when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
setup_log=$work/setup.log
stops=()
cleanup() {
  local i
  for ((i = ${#stops[@]} - 1; i >= 0; i--)); do
    ${stops[i]} >>"$setup_log" 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# step DESCRIPTION COMMAND...: runs COMMAND with its output in the log.
step() {
  local what=$1
  shift
  printf '%-44s' "$what"
  local t0=$SECONDS
  if "$@" >>"$setup_log" 2>&1; then
    echo "ok ($((SECONDS - t0)) s)"
  else
    echo "FAILED"
    echo "--- its output:"
    tail -n 60 "$setup_log"
    exit 1
  fi
}

# serve NAME: starts scripts/NAME.sh and exports what it prints.
serve() {
  local env
  env=$(scripts/"$1".sh start 2>>"$setup_log") || return 1
  eval "$env"
  stops+=("scripts/$1.sh stop")
}

step "go mod download" go mod download
# The example app's browser test is a module of its own (the library's
# go.mod carries no browser driver): go ./... at the root does not reach it.
e2e=examples/slackapp/e2e
step "go mod download ($e2e)" go -C "$e2e" mod download
if [ "${INSTALLVAULT_SKIP_BROWSER:-}" != 1 ]; then
  step "chromium (examples/slackapp end to end)" bash scripts/chromium.sh install
fi
step "DynamoDB Local" serve dynamodb-local
step "PostgreSQL" serve postgres
step "Redis and a 3-master Redis Cluster" serve redis
step "go vet ./..." go vet ./...
step "go vet ./... ($e2e)" go -C "$e2e" vet ./...

echo "go test -race ./..."
out=$work/test.out
status=0
go test -race -count=1 ./... >"$out" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  cat "$out"
  exit "$status"
fi
grep -v '^=== \|^--- PASS\|^PASS$' "$out"

echo "go test -race ./... ($e2e)"
status=0
go -C "$e2e" test -race -count=1 ./... >"$out" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  cat "$out"
  exit "$status"
fi
grep -v '^=== \|^--- PASS\|^PASS$' "$out"
