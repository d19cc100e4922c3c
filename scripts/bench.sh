#!/usr/bin/env bash
# Reproduces every performance figure in README.md (make bench). Starts
# DynamoDB Local, PostgreSQL and Redis for their rows and stops them after;
# installs @slack/oauth@4.0.0 from npm for the Bolt baseline. Raw output goes
# to bench/results.txt, benchstat's summary to bench/summary.txt.
#
# Each figure is a ratio against a baseline measured in the same run:
#   memory      fetch at 1 000 / 100 000 / 1 000 000 installations; bytes per installation
#   crypto      encrypted vs plaintext fetch, 1 000 tenants, warm cache; KMS calls for 100 000 fetches
#   rotation    1 000-concurrent refresh storm vs one-refresh-per-request; hot Authorize vs fetch
#   bolt        @slack/oauth's InstallProvider.authorize over its memory store (scripts/bolt-authorize.js)
#   backends    fetch, fetch with user, store, update, due tick on DynamoDB Local, PostgreSQL, SQLite, Redis
#   4 processes x 250 concurrent Authorize on one DynamoDB Local table: refresh calls
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-6}
mkdir -p bench .cache/bolt
out=bench/results.txt
: >"$out"

stops=()
cleanup() { local i; for ((i = ${#stops[@]} - 1; i >= 0; i--)); do ${stops[i]} || true; done; }
trap cleanup EXIT
serve() { local env; env=$(scripts/"$1".sh start); eval "$env"; stops+=("scripts/$1.sh stop"); }
serve dynamodb-local
serve postgres
serve redis

run() { echo "+ $*" | tee -a "$out" >&2; "$@" 2>&1 | tee -a "$out"; }

if [ ! -d .cache/bolt/node_modules/@slack/oauth ]; then
  (cd .cache/bolt && npm install --no-save --no-audit --no-fund --loglevel=error @slack/oauth@4.0.0 >/dev/null)
fi

run go test -run '^$' -bench 'BenchmarkFetch' -benchtime 300000x -count "$count" ./memory/
run go test -run '^$' -bench 'BenchmarkMemoryPerInstallation' -benchtime 1x -count 1 ./memory/
run go test -run '^$' -bench 'BenchmarkFetch' -benchmem -count "$count" ./crypto/
run go test -run 'TestKMSCallsFor100kFetches' -count 1 -v ./crypto/
run go test -run '^$' -bench . -benchmem -count "$count" ./rotation/
run env NODE_PATH="$PWD/.cache/bolt/node_modules" node scripts/bolt-authorize.js "$count"
run go test -run 'TestCrossProcessStormMakesOneRefresh' -count 1 -v ./rotation/
run go test -run '^$' -bench . -benchtime 2s -count 1 ./dynamo/
run go test -run 'TestConsumedCapacity' -count 1 -v ./dynamo/
run go test -run 'TestTickCostFollowsDue' -count 1 -v ./internal/scaletest/
run env INSTALLVAULT_OPS_TENANTS=2000 go test -run 'TestOperationsAtScale' -count 1 -v ./cmd/installvault/
run go test -run '^$' -bench . -benchtime 2s -count 1 ./postgres/
run go test -run '^$' -bench . -benchtime 2s -count 1 ./sqlite/
run go test -run '^$' -bench 'Fetch|Store|Update|DueTick|Ping' -benchtime 3000x -count 1 ./redisstore/
run go test -run '^$' -bench 'MemoryPer' -benchtime 1x -count 1 ./redisstore/

if command -v benchstat >/dev/null || [ -x "$(go env GOPATH)/bin/benchstat" ]; then
  bs=$(command -v benchstat || echo "$(go env GOPATH)/bin/benchstat")
else
  GOFLAGS= go install golang.org/x/perf/cmd/benchstat@latest
  bs="$(go env GOPATH)/bin/benchstat"
fi
grep -E '^(Benchmark|goos|goarch|pkg|cpu)' "$out" | "$bs" - >bench/summary.txt || true
echo "raw: $out, summary: bench/summary.txt" >&2
