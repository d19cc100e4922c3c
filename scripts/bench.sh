#!/usr/bin/env bash
# Reproduces every performance figure in README.md (make bench). Starts
# DynamoDB Local for the DynamoDB rows and stops it after. Raw output goes to
# bench/results.txt, benchstat's summary to bench/summary.txt.
#
# Each figure is a ratio against a baseline measured in the same run:
#   memory      fetch at 1 000 / 100 000 / 1 000 000 installations; bytes per installation
#   crypto      encrypted vs plaintext fetch, 1 000 tenants, warm cache; KMS calls for 100 000 fetches
#   rotation    1 000-concurrent refresh storm vs one-refresh-per-request; hot Authorize vs fetch
#   dynamo      fetch/store on DynamoDB Local vs memory, with DynamoDB calls per operation
#   4 processes x 250 concurrent Authorize on one DynamoDB Local table: refresh calls
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-6}
mkdir -p bench
out=bench/results.txt
: >"$out"

eval "$(scripts/dynamodb-local.sh start)"
trap 'scripts/dynamodb-local.sh stop' EXIT

run() { echo "+ $*" | tee -a "$out" >&2; "$@" 2>&1 | tee -a "$out"; }

run go test -run '^$' -bench 'BenchmarkFetch' -benchtime 300000x -count "$count" ./memory/
run go test -run '^$' -bench 'BenchmarkMemoryPerInstallation' -benchtime 1x -count 1 ./memory/
run go test -run '^$' -bench 'BenchmarkFetch' -benchmem -count "$count" ./crypto/
run go test -run 'TestKMSCallsFor100kFetches' -count 1 -v ./crypto/
run go test -run '^$' -bench . -benchmem -count "$count" ./rotation/
run go test -run 'TestCrossProcessStormMakesOneRefresh' -count 1 -v ./rotation/
run go test -run '^$' -bench . -benchtime 2s -count 1 ./dynamo/

if command -v benchstat >/dev/null || [ -x "$(go env GOPATH)/bin/benchstat" ]; then
  bs=$(command -v benchstat || echo "$(go env GOPATH)/bin/benchstat")
else
  GOFLAGS= go install golang.org/x/perf/cmd/benchstat@latest
  bs="$(go env GOPATH)/bin/benchstat"
fi
grep -E '^(Benchmark|goos|goarch|pkg|cpu)' "$out" | "$bs" - >bench/summary.txt || true
echo "raw: $out, summary: bench/summary.txt" >&2
