// Package storeurl opens the installvault backend a store URL names, so
// that the installvault CLI and examples/slackapp pick a backend with one
// setting:
//
//	dynamodb:TABLE, dynamodb://TABLE              package dynamo (the caller supplies the client)
//	postgres://user:pass@host:5432/db?search_path=s  package postgres (postgresql:// too)
//	sqlite:PATH, sqlite://PATH                    package sqlite (sqlite:///abs/path is /abs/path)
//	redis://[:pass@]host:port[/db][?prefix=P]     package redisstore, one server (rediss:// for TLS)
//	redis-cluster://[:pass@]h1:p1,h2:p2[?prefix=P]  package redisstore, Redis Cluster
//
// [Parse] checks a URL without any I/O; [URL.Open] connects and returns the
// backend as an [installstore.FullStore] with the function that releases it
// (the pool, the file, the client). The backend holds sealed values only:
// callers wrap it with crypto.NewStore.
//
// Guarantees: every error wraps [installstore.ErrInvalid] for a bad URL (or
// [installstore.ErrUnavailable] for a server that does not answer), and no
// error or [URL.String] ever holds the URL's password, in user info or in a
// password query parameter, raw or percent-decoded. Open creates a schema
// only when told to ([Options.Create]): otherwise a missing PostgreSQL
// schema or SQLite file is an error wrapping [ErrNoSchema], so a mistyped
// URL never makes an empty store.
package storeurl
