package postgres

// The due statements, for tests that EXPLAIN them.
const (
	DueTenantsSQL = dueTenantsSQL
	DueUsersSQL   = dueUsersSQL
)
