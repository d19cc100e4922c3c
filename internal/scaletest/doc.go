// Package scaletest measures what installvault's background work costs at
// scale, on the production stack: rotation over crypto (KMS through
// crypto/kmstest, a data-key cache) over dynamo on DynamoDB Local, with a
// fake Slack on a loopback httptest server.
//
// It holds tests only. They count calls (DynamoDB calls by operation, the
// items and capacity units DynamoDB reports, KMS operations, Slack
// refreshes) and assert the structural claims: one background refresh tick
// from a fresh replica costs what is due, not what is stored. No test
// asserts a timing.
//
// Run them against DynamoDB Local, from the repository root:
//
//	eval "$(scripts/dynamodb-local.sh start)"
//	go test -run TestTickCostFollowsDue -v ./internal/scaletest/
//	INSTALLVAULT_SCALE_TENANTS=100000 go test -run TestTickCostFollowsDue -v -timeout 3h ./internal/scaletest/
//	scripts/dynamodb-local.sh stop
//
// Without INSTALLVAULT_DYNAMODB_ENDPOINT the tests skip, with one line
// naming the command above; under CI=true they fail instead (see
// dynamo/dynamotest).
package scaletest
