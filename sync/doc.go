// Package sync is the dbsync engine: it loads and validates configuration,
// reads the rows of one query from the primary MySQL server (or, when that
// fails, from a local SQLite database), streams them into a staging table on
// the target (Azure Database for MySQL or a SQLite file), verifies them and
// swaps the staging table in atomically, so readers of the target only ever
// see the old rows or the new rows.
//
// One run is: load config → take the run lock → stage → verify → swap →
// record history. See DESIGN.md §2 for the contract and README.md for the
// user's view.
package sync
