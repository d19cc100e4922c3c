# README's test command. Installs and starts what the tests need (DynamoDB Local,
# PostgreSQL, Redis and a Redis Cluster, Chromium), runs go vet and go test -race,
# and stops what it started.
.PHONY: test bench
test:
	bash scripts/test.sh

# Every performance figure README claims (see scripts/bench.sh).
bench:
	bash scripts/bench.sh
