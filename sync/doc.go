// Package dbsync is the dbsync engine: it loads and validates configuration,
// reads a job's tables from the primary MySQL server in one snapshot (or,
// when that fails, from a local SQLite database), and brings the target
// tables (Azure Database for MySQL or a SQLite file) exactly in step: a
// replace stages every row and swaps the staging tables in atomically, a
// merge writes only the differences in one transaction. Readers of the
// target only ever see the old rows or the new rows.
//
// One run is: load config → take the run locks → choose the source →
// stage → verify → commit → record history. docs/guarantees.md describes
// each step and README.md is the user's front page.
package dbsync
