// Package mysqldb is dbsync's MySQL backend: MySQL, MariaDB and Azure
// Database for MySQL as the primary source (one read-only snapshot
// session) and as the target (staging tables loaded by LOAD DATA or INSERT
// streams, ownership marks, one atomic RENAME, merges applied in one
// transaction at the swap). It implements the core's interfaces
// (dbsync.Backend, TargetDB, Merger, Session); a Runner reaches it only
// through Runner.MySQL.
package mysqldb
