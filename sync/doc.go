// Package dbsync is the dbsync engine: it loads and validates configuration,
// reads a job's tables from the primary MySQL server in one snapshot (or,
// when that fails, from a local SQLite database), and brings the target
// tables (Azure Database for MySQL or a SQLite file) exactly in step: a
// replace stages every row and swaps the staging tables in atomically, a
// merge writes only the differences in one transaction. Readers of the
// target only ever see the old rows or the new rows.
//
// A run's path (Runner.Run), and the file that holds each step (mysqldb/
// and sqlitedb/ are the backends, sync/mysqldb and sync/sqlitedb):
//
//  1. load and validate the config ........ config.go, config_tables.go, inifile.go
//  2. pick the target backend, once ....... run.go newTarget: Runner.MySQL / Runner.SQLite (run.go Backend, target.go TargetDB)
//  3. take the run locks, begin, record running ... run.go run, history.go; mysqldb/locks.go, sqlitedb/target.go Lock
//  4. choose the source once, fall back ... run.go readSource (source.go Session; mysqldb/session.go, sqlitedb/session.go)
//  5. per table: replace = stage .......... run.go readTables, stageplan.go; mysqldb/target.go, load.go, streams.go / sqlitedb/target.go
//  6. per table: merge = key, links, compare, delta, thresholds ... merge_run.go mergeRows, merge.go, merge_links.go; mysqldb/merge.go, sqlitedb/merge.go
//     incremental = plan from history, window, deletes by key counts, then mergeRows by key ... incremental_run.go, incremental.go; mysqldb/incremental_*.go, sqlitedb/incremental.go
//  7. verify counts and min_rows .......... run.go run
//  8. commit everything at once ........... TargetDB.Swap: mysqldb/target.go (RENAME, then merge.go applies the merges) / sqlitedb/target.go (COMMIT)
//  9. correct merge counts, record outcome  run.go run, history.go finish
//  10. report ............................. report.go, outcome_log.go
//
// A merge runs on the backend's clock: MySQL compares while staging and
// applies every merged table's differences inside swap, in one
// transaction with the others; SQLite applies them while staging, inside
// the run's one transaction, which swap commits. Either way nothing is
// visible before swap. docs/guarantees.md describes each step and
// README.md is the user's front page.
package dbsync
