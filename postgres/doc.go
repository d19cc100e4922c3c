// Package postgres is an installstore backend on PostgreSQL (pgx/v5,
// pgxpool). [Store] implements [installstore.FullStore]; any number of
// replicas share one database safely.
package postgres
