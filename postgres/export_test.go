package postgres

// The due statements, for tests that EXPLAIN them.
const (
	DueTenantsSQL = dueTenantsSQL
	DueUsersSQL   = dueUsersSQL
)

// MigrationV1 is the schema the previous release created (version 1).
var MigrationV1 = migrations[0]
