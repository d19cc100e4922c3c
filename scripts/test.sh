#!/usr/bin/env bash
# The whole test suite, as README's test command (make test) runs it on a
# fresh machine: fetch modules, start the servers the tests need, vet, test
# with the race detector, stop what was started.
set -euo pipefail
cd "$(dirname "$0")/.."

go mod download

# The end-to-end test of examples/slackapp drives a real headless Chromium.
if [ "${INSTALLVAULT_SKIP_BROWSER:-}" != 1 ]; then
  bash scripts/chromium.sh install
fi

eval "$(scripts/dynamodb-local.sh start)"
trap 'scripts/dynamodb-local.sh stop' EXIT
eval "$(scripts/redis.sh start)"
trap 'scripts/redis.sh stop; scripts/dynamodb-local.sh stop' EXIT
eval "$(scripts/postgres.sh start)"
trap 'scripts/postgres.sh stop; scripts/redis.sh stop; scripts/dynamodb-local.sh stop' EXIT

go vet ./...
go test -race -count=1 ./...
