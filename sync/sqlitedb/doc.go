// Package sqlitedb is dbsync's SQLite backend: a SQLite file as the
// fallback source (one read transaction) and as the target (the whole run
// in one transaction that the swap commits). It implements the core's
// interfaces (dbsync.Backend, TargetDB, Merger, Session); a Runner reaches
// it only through Runner.SQLite.
package sqlitedb
