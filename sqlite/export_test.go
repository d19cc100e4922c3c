package sqlite

// MigrationV1 is the schema the previous release created (version 1).
var MigrationV1 = migrations[0]
